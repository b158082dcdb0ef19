import Foundation
import XCTest

@testable import DLP

/// Sums the values of N replicas run on N threads: each call waits until every replica has
/// made its call (an explicit barrier, no sleeps), then every replica gets the sum, added in
/// replica order.
final class ThreadReplicaGroup: @unchecked Sendable {
  let count: Int
  private let condition = NSCondition()
  private var deposits: [[Double]?]
  private var generation = 0
  private var result: [Double] = []
  private(set) var calls = 0

  init(count: Int) {
    self.count = count
    deposits = Array(repeating: nil, count: count)
  }

  final class Member: ReplicaReduction {
    let group: ThreadReplicaGroup
    let rank: Int
    init(_ group: ThreadReplicaGroup, rank: Int) {
      self.group = group
      self.rank = rank
    }
    func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>) { group.reduce(values, rank: rank) }
  }

  func member(_ rank: Int) -> Member { Member(self, rank: rank) }

  func reduce(_ values: UnsafeMutableBufferPointer<Double>, rank: Int) {
    condition.lock()
    defer { condition.unlock() }
    let myGeneration = generation
    deposits[rank] = Array(values)
    if deposits.allSatisfy({ $0 != nil }) {
      result = Array(repeating: 0, count: values.count)
      for d in deposits { for i in result.indices { result[i] += d![i] } }
      deposits = Array(repeating: nil, count: count)
      generation += 1
      calls += 1
      condition.broadcast()
    } else {
      while generation == myGeneration { condition.wait() }
    }
    for i in values.indices { values[i] = result[i] }
  }
}

final class BatchNormalizationTests: XCTestCase {
  func model(seed: UInt64 = 7) throws -> Model {
    let m = try Sequential(
      [InputLayer(shape: [5]), Dense(3, activation: .tanh), BatchNormalization(momentum: 0.9), Dense(2)], seed: seed)
    try m.compile(optimizer: SGD(), losses: [MeanSquaredError()])
    // Non-trivial gamma, beta and moving statistics.
    let bn = m.layers[2]
    try bn.setWeights([
      Tensor(uncheckedShape: [3], scalars: [1.5, 0.5, -1]), Tensor(uncheckedShape: [3], scalars: [0.1, -0.2, 0.3]),
      Tensor(uncheckedShape: [3], scalars: [0.05, -0.1, 0.2]), Tensor(uncheckedShape: [3], scalars: [0.5, 2, 1]),
    ])
    return m
  }

  func testWeightsCountsAndKerasNames() throws {
    let m = try model()
    let bn = m.layers[2]
    XCTAssertEqual(bn.weightSpecs.map(\.name), ["gamma", "beta", "moving_mean", "moving_variance"])
    XCTAssertEqual(bn.weightSpecs.map(\.trainable), [true, true, false, false])
    XCTAssertEqual(m.parameterCount, 18 + 12 + 8)
    XCTAssertEqual(m.trainableParameterCount, 18 + 6 + 8)
    let summary = m.summary()
    XCTAssertTrue(summary.contains("Total params: 38"), summary)
    XCTAssertTrue(summary.contains("Trainable params: 32"), summary)
    XCTAssertTrue(summary.contains("Non-trainable params: 6"), summary)
    // The optimizer never touches the moving statistics.
    let movingStart = bn.binding!.offsets[2]
    XCTAssertFalse(m.parameters.trainableRanges.contains { $0.contains(movingStart) || $0.contains(movingStart + 5) })
  }

  /// Training normalises with the batch's mean and biased variance and moves the moving
  /// statistics by one momentum step; inference uses the moving statistics.
  func testTrainingAndInferenceAgainstTheFormulas() throws {
    let bn = try BatchNormalization(momentum: 0.9, epsilon: 0.01)
    let m = try Sequential([InputLayer(shape: [2]), bn])
    try bn.setWeights([
      Tensor(uncheckedShape: [2], scalars: [2, 0.5]), Tensor(uncheckedShape: [2], scalars: [1, -1]),
      Tensor(uncheckedShape: [2], scalars: [0.5, 0]), Tensor(uncheckedShape: [2], scalars: [4, 1]),
    ])
    let x: [Float] = [1, 2, 3, -2, 5, 0, -1, 4]
    let e = GraphExecutor(model: m, capacity: 4)
    let data = try ArrayData(inputs: [Tensor(uncheckedShape: [4, 2], scalars: x)])
    [0, 1, 2, 3].withUnsafeBufferPointer { e.load(rows: $0, from: data, targets: false) }
    e.forward(batch: 4, training: true)
    let out = Array(UnsafeBufferPointer(start: e.output(node: 1), count: 8))
    for c in 0..<2 {
      let v = (0..<4).map { Double(x[$0 * 2 + c]) }
      let mean = v.reduce(0, +) / 4
      let variance = v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
      let (gamma, beta) = c == 0 ? (2.0, 1.0) : (0.5, -1.0)
      for r in 0..<4 {
        XCTAssertEqual(
          Double(out[r * 2 + c]), gamma * (v[r] - mean) / (variance + 0.01).squareRoot() + beta, accuracy: 1e-5)
      }
      let (m0, v0) = c == 0 ? (0.5, 4.0) : (0.0, 1.0)
      XCTAssertEqual(Double(bn.getWeights()[2].scalars[c]), m0 * 0.9 + mean * 0.1, accuracy: 1e-6)
      XCTAssertEqual(Double(bn.getWeights()[3].scalars[c]), v0 * 0.9 + variance * 0.1, accuracy: 1e-5)
    }
    // Inference: the moving statistics (as just updated).
    let moving = bn.getWeights()
    e.forward(batch: 4, training: false)
    let inferred = Array(UnsafeBufferPointer(start: e.output(node: 1), count: 8))
    for r in 0..<4 {
      for c in 0..<2 {
        let expected =
          (x[r * 2 + c] - moving[2].scalars[c]) / (moving[3].scalars[c] + 0.01).squareRoot() * moving[0].scalars[c]
          + moving[1].scalars[c]
        XCTAssertEqual(inferred[r * 2 + c], expected, accuracy: 1e-5)
      }
    }
    XCTAssertEqual(bn.getWeights().map(\.scalars), moving.map(\.scalars), "inference leaves the statistics alone")
  }

  /// Keras 3: a BatchNormalization set not trainable runs in inference mode, even in fit.
  func testFrozenLayerUsesMovingStatisticsInTraining() throws {
    let m = try model()
    let bn = m.layers[2]
    bn.trainable = false
    m.updateTrainableRanges()
    XCTAssertEqual(m.trainableParameterCount, 18 + 8)
    let before = bn.getWeights().map(\.scalars)
    let x = testTensor([6, 5], seed: 3)
    let train = GraphExecutor(model: m, capacity: 6)
    let data = try ArrayData(x: x, y: testTensor([6, 2], seed: 4))
    Array(0..<6).withUnsafeBufferPointer { train.load(rows: $0, from: data, targets: true) }
    train.forward(batch: 6, training: true)
    let trained = Array(UnsafeBufferPointer(start: train.output(node: 3), count: 12))
    XCTAssertEqual(bn.getWeights().map(\.scalars), before, "a frozen layer keeps its statistics")
    XCTAssertEqual(try m.predict(x).scalars, trained, "training output = inference output")
    // And its gradient is inference's: check it against finite differences.
    GradientChecker(model: m, data: data).run()
  }

  /// Data-parallel replicas holding parts of a batch (one of them empty) normalise with the
  /// statistics of the whole batch: outputs, moving statistics, the summed weight gradients and
  /// the input gradients equal one process with the whole batch.
  func testReplicasGiveTheWholeBatchResult() throws {
    let n = 8
    let x = testTensor([n, 5], seed: 21, scale: 2)
    let y = testTensor([n, 2], seed: 22)
    let data = try ArrayData(x: x, y: y)

    struct Result {
      var output: [Float], inputGrad: [Float], grads: [Float], moving: [[Float]]
    }
    func run(_ m: Model, rows: Range<Int>, replicas: ReplicaReduction?) -> Result {
      let e = GraphExecutor(model: m, capacity: n, inputGradients: true)
      let ids = Array(rows)
      ids.withUnsafeBufferPointer { e.load(rows: $0, from: data, targets: true) }
      var stats = [Double](repeating: 0, count: m.compiled!.layout.size)
      e.forward(batch: ids.count, training: true, rowOffset: rows.lowerBound, replicas: replicas)
      stats.withUnsafeMutableBufferPointer { e.loss(batch: ids.count, stats: $0.baseAddress!, gradScale: 1 / Float(n)) }
      e.backward(batch: ids.count, replicas: replicas)
      return Result(
        output: Array(UnsafeBufferPointer(start: e.output(node: 2), count: ids.count * 3)),
        inputGrad: Array(UnsafeBufferPointer(start: e.gradient(node: 0), count: ids.count * 5)),
        grads: Array(m.parameters.gradBuffer), moving: m.layers[2].getWeights()[2...].map(\.scalars))
    }
    let whole = run(try model(), rows: 0..<n, replicas: nil)

    let parts = [0..<3, 3..<3, 3..<8]
    let models = try parts.map { _ in try model() }
    let group = ThreadReplicaGroup(count: parts.count)
    var results = [Result?](repeating: nil, count: parts.count)
    let lock = NSLock()
    let job = UncheckedSendable { (k: Int) in
      let r = run(models[k], rows: parts[k], replicas: group.member(k))
      lock.lock()
      results[k] = r
      lock.unlock()
    }
    // One thread per replica (GCD's concurrentPerform may run them one after another, and the
    // replicas wait for each other).
    let finished = DispatchGroup()
    for k in parts.indices {
      finished.enter()
      Thread {
        job.value(k)
        finished.leave()
      }.start()
    }
    finished.wait()
    XCTAssertEqual(group.calls, 2, "one reduction in forward, one in backward")
    let output = results.flatMap { $0!.output }
    let inputGrad = results.flatMap { $0!.inputGrad }
    for (a, b) in zip(output, whole.output) { XCTAssertEqual(a, b, accuracy: 1e-5) }
    for (a, b) in zip(inputGrad, whole.inputGrad) { XCTAssertEqual(a, b, accuracy: 1e-6) }
    // The weight gradients are per replica sums: their sum is the whole batch's.
    for i in whole.grads.indices {
      let sum = results.reduce(Float(0)) { $0 + $1!.grads[i] }
      XCTAssertEqual(sum, whole.grads[i], accuracy: 1e-5, "gradient \(i)")
    }
    for r in results { XCTAssertEqual(r!.moving.flatMap { $0 }, whole.moving.flatMap { $0 }) }
  }
}
