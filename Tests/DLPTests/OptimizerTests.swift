import XCTest

@testable import DLP

/// One and two optimizer steps against hand-computed Keras formulas.
final class OptimizerTests: XCTestCase {
  func step(_ o: Optimizer, _ w: inout [Float], _ g: [Float]) {
    w.withUnsafeMutableBufferPointer { wp in
      g.withUnsafeBufferPointer { gp in o.apply(params: wp.baseAddress!, grads: gp.baseAddress!, ranges: [0..<wp.count], total: wp.count) }
    }
  }

  func testSGD() {
    var w: [Float] = [1, -2]
    step(SGD(learningRate: 0.1), &w, [0.5, -1])
    XCTAssertEqual(w[0], 0.95, accuracy: 1e-6)
    XCTAssertEqual(w[1], -1.9, accuracy: 1e-6)
  }

  func testSGDMomentumAndNesterov() {
    var w: [Float] = [1]
    let o = SGD(learningRate: 0.1, momentum: 0.9)
    step(o, &w, [1])  // m = -0.1, w = 0.9
    step(o, &w, [1])  // m = -0.09 - 0.1 = -0.19, w = 0.71
    XCTAssertEqual(w[0], 0.71, accuracy: 1e-6)
    var v: [Float] = [1]
    let n = SGD(learningRate: 0.1, momentum: 0.9, nesterov: true)
    step(n, &v, [1])  // m = -0.1; w += 0.9 * -0.1 - 0.1 = -0.19 -> 0.81
    step(n, &v, [1])  // m = -0.19; w += 0.9 * -0.19 - 0.1 = -0.271 -> 0.539
    XCTAssertEqual(v[0], 0.539, accuracy: 1e-6)
  }

  func testRMSprop() {
    var w: [Float] = [1]
    let o = RMSprop(learningRate: 0.01)
    step(o, &w, [2])  // v = 0.1 * 4 = 0.4; w -= 0.01 * 2 / sqrt(0.4 + 1e-7)
    let w1 = 1 - 0.01 * 2 / (0.4 + 1e-7).squareRoot()
    XCTAssertEqual(Double(w[0]), w1, accuracy: 1e-6)
    step(o, &w, [1])  // v = 0.9 * 0.4 + 0.1 = 0.46
    XCTAssertEqual(Double(w[0]), w1 - 0.01 / (0.46 + 1e-7).squareRoot(), accuracy: 1e-6)
  }

  func testAdam() {
    var w: [Float] = [1]
    let o = Adam(learningRate: 0.1)
    step(o, &w, [2])
    // m = 0.2, v = 0.004; alpha = 0.1 * sqrt(0.001) / 0.1; w -= alpha * m / (sqrt(v) + eps)
    let alpha1 = 0.1 * (1 - 0.999).squareRoot() / (1 - 0.9)
    let w1 = 1 - alpha1 * 0.2 / (0.004.squareRoot() + 1e-7)
    XCTAssertEqual(Double(w[0]), w1, accuracy: 1e-5)
    step(o, &w, [-1])
    let m2 = 0.2 + (-1 - 0.2) * 0.1
    let v2 = 0.004 + (1 - 0.004) * 0.001
    let alpha2 = 0.1 * (1 - 0.999 * 0.999).squareRoot() / (1 - 0.81)
    XCTAssertEqual(Double(w[0]), w1 - alpha2 * m2 / (v2.squareRoot() + 1e-7), accuracy: 1e-5)
  }

  func testShardedOptimizerTouchesOnlyItsShard() {
    var w: [Float] = [1, 1, 1, 1]
    let o = RMSprop(learningRate: 0.1)
    o.prepare(shard: 2..<4)
    step(o, &w, [1, 1, 1, 1])
    XCTAssertEqual(Array(w[0..<2]), [1, 1])
    XCTAssertTrue(w[2] < 1 && w[3] < 1)
  }

  func testFrozenRangesAreSkipped() throws {
    let a = try Dense(3, name: "frozen_a")
    let m = try Sequential([InputLayer(shape: [2]), a, Dense(1)])
    a.trainable = false
    m.updateTrainableRanges()
    XCTAssertEqual(m.trainableParameterCount, 4)
    XCTAssertEqual(m.parameters.trainableRanges, [9..<13])
  }
}
