import XCTest

@testable import DLP

final class MetricTests: XCTestCase {
  func run(_ m: any Metric, _ pred: [Float], _ target: [Float], width: Int) -> Double {
    var state = [Double](repeating: 0, count: m.stateSize)
    pred.withUnsafeBufferPointer { p in
      target.withUnsafeBufferPointer { t in
        state.withUnsafeMutableBufferPointer { m.update(prediction: p.baseAddress!, target: t.baseAddress!, rows: pred.count / width, width: width, state: $0.baseAddress!) }
      }
    }
    return state.withUnsafeBufferPointer { m.result($0) }
  }

  func testAccuracyResolution() throws {
    XCTAssertTrue(try Metrics.named("accuracy", loss: SparseCategoricalCrossentropy(), outputWidth: 10) is SparseCategoricalAccuracy)
    XCTAssertTrue(try Metrics.named("accuracy", loss: CategoricalCrossentropy(), outputWidth: 10) is CategoricalAccuracy)
    XCTAssertTrue(try Metrics.named("accuracy", loss: BinaryCrossentropy(), outputWidth: 1) is BinaryAccuracy)
  }

  func testAccuracies() {
    XCTAssertEqual(run(SparseCategoricalAccuracy(name: "a"), [0.1, 0.9, 0.8, 0.2], [1, 1], width: 2), 0.5)
    XCTAssertEqual(run(CategoricalAccuracy(name: "a"), [0.1, 0.9, 0.8, 0.2], [0, 1, 1, 0], width: 2), 1)
    XCTAssertEqual(run(BinaryAccuracy(name: "a"), [0.7, 0.4, 0.2], [1, 1, 0], width: 1), 2.0 / 3, accuracy: 1e-12)
    XCTAssertEqual(run(MeanError(name: "mae", squared: false), [1, 2], [2, 4], width: 1), 1.5)
    XCTAssertEqual(run(Precision(name: "p"), [0.9, 0.8, 0.1, 0.7], [1, 0, 1, 1], width: 1), 2.0 / 3, accuracy: 1e-12)
    XCTAssertEqual(run(Recall(name: "r"), [0.9, 0.8, 0.1, 0.7], [1, 0, 1, 1], width: 1), 2.0 / 3, accuracy: 1e-12)
  }

  /// AUC against a direct computation of Keras's definition (counts at each threshold).
  func testAUCMatchesThresholdDefinition() {
    var rng = SeededGenerator(seed: 4)
    let n = 500
    let target = (0..<n).map { _ in Float(rng.next() % 2) }
    let pred = target.map { t in Swift.min(1, Swift.max(0, 0.3 * t + 0.7 * rng.nextUniform())) }
    let auc = AUC(name: "auc")
    var tpr: [Double] = []
    var fpr: [Double] = []
    for th in auc.thresholds {
      let tp = zip(pred, target).filter { $0 > th && $1 == 1 }.count
      let fp = zip(pred, target).filter { $0 > th && $1 == 0 }.count
      let pos = target.filter { $0 == 1 }.count
      tpr.append(Double(tp) / Double(pos))
      fpr.append(Double(fp) / Double(n - pos))
    }
    var expected = 0.0
    for t in 0..<(tpr.count - 1) { expected += (fpr[t] - fpr[t + 1]) * (tpr[t] + tpr[t + 1]) / 2 }
    XCTAssertEqual(run(auc, pred, target, width: 1), expected, accuracy: 1e-12)
    XCTAssertGreaterThan(expected, 0.6)
  }
}
