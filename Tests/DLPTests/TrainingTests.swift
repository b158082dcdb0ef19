import Foundation
import XCTest

@testable import DLP

final class TrainingTests: XCTestCase {
  /// Two interleaved spirals-ish blobs: a nonlinear problem an MLP must learn.
  func blobs(_ n: Int, seed: UInt64) throws -> ArrayData {
    var rng = SeededGenerator(seed: seed)
    var x: [Float] = []
    var y: [Float] = []
    for _ in 0..<n {
      let c = Int(rng.next() % 3)
      let angle = Float(c) * 2.1 + rng.nextNormal() * 0.3
      let r = 1 + rng.nextNormal() * 0.15
      x += [r * Foundation.cos(angle), r * Foundation.sin(angle), rng.nextNormal() * 0.1]
      y.append(Float(c))
    }
    return try ArrayData(x: Tensor(shape: [n, 3], scalars: x), y: Tensor(shape: [n, 1], scalars: y))
  }

  func testMLPLearnsAndValidates() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(32, activation: .relu), Dropout(0.1), Dense(3, activation: .softmax)], seed: 1)
    try m.compile(optimizer: "rmsprop", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"], learningRate: 0.01)
    let h = try m.fit(try blobs(1200, seed: 1), options: FitOptions(epochs: 15, batchSize: 32, seed: 3), validationSplit: 0.2)
    XCTAssertEqual(h.history["loss"]?.count, 15)
    XCTAssertNotNil(h.history["val_accuracy"])
    XCTAssertLessThan(h.history["loss"]!.last!, h.history["loss"]!.first!)
    let ev = try m.evaluate(try blobs(600, seed: 2))
    XCTAssertGreaterThan(ev["accuracy"]!, 0.95)
  }

  func testSameSeedSameWeightsAndBatchSplitInvariance() throws {
    func train() throws -> [Float] {
      let m = try Sequential([InputLayer(shape: [3]), Dense(8, activation: .relu), Dropout(0.3), Dense(3, activation: .softmax)], seed: 5)
      try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy")
      try m.fit(try blobs(100, seed: 4), options: FitOptions(epochs: 2, batchSize: 16, seed: 9))
      return m.parameters.snapshot()
    }
    XCTAssertEqual(try train(), try train())
  }

  func testNaNLossStopsTraining() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(1)], seed: 1)
    try m.compile(optimizer: SGD(learningRate: 1e30), losses: [MeanSquaredError()])
    let h = try m.fit(try blobs(64, seed: 1), options: FitOptions(epochs: 50, batchSize: 8))
    XCTAssertNotNil(h.stoppedReason)
    XCTAssertLessThan(h.epochs.count, 50)
  }

  func testTargetsMustMatchTheLoss() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(3, activation: .softmax)])
    try m.compile(optimizer: "sgd", loss: "categorical_crossentropy")
    XCTAssertThrowsError(try m.fit(try blobs(10, seed: 1), options: FitOptions())) {
      XCTAssertTrue("\($0)".contains("integer labels need sparse_categorical_crossentropy"), "\($0)")
    }
  }

  func testPredictAppliesFusedActivation() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(4, activation: .softmax)], seed: 2)
    try m.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
    let p = try m.predict(testTensor([5, 3], seed: 1))
    for r in 0..<5 { XCTAssertEqual(p.scalars[(r * 4)..<(r * 4 + 4)].reduce(0, +), 1, accuracy: 1e-5) }
  }
}
