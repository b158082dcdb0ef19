import DLP
import XCTest

@testable import DLPCluster

/// What a sweep's messages carry survives the JSON trip exactly.
final class FoldWireTests: XCTestCase {
  func testTasksAndOptionsRoundTrip() throws {
    let tasks = try IteratedKFoldPlan(folds: 3, repeats: 2, seed: .max).tasks(count: 10)
    for t in tasks {
      XCTAssertEqual(try FoldWire.decode(FoldTask.self, FoldWire.encode(t), what: "task"), t)
    }
    let o = CrossValidationOptions(epochs: 7, batchSize: 5, shuffle: false)
    XCTAssertEqual(
      try FoldWire.decode(CrossValidationOptions.self, FoldWire.encode(o), what: "options"), o)
  }

  func testResultsRoundTripBitForBitEvenWithNaN() throws {
    var rng = SystemRandomNumberGenerator()
    var h = History()
    let values =
      (0..<200).map { _ in Double(bitPattern: rng.next() >> 2) } + [
        0.1, 1e-300, -2.5e17, .nan, .infinity, -.infinity, 3,
      ]
    h.history = ["loss": values, "val_mae": [1.0 / 3.0, 2.0 / 7.0]]
    h.epochs = [0, 1]
    h.epochSeconds = [0.25, 0.5]
    h.trainSamples = 303
    h.stoppedReason = "NaN loss at epoch 2"
    let r = FoldResult(
      repeat: 2, fold: 3, history: h, evaluation: ["mae": 2.654_761_923_421_727_7, "loss": .nan],
      seconds: 1.5)
    let back = try FoldWire.decode(FoldResult.self, FoldWire.encode(r), what: "result")
    XCTAssertEqual(back.repeat, 2)
    XCTAssertEqual(back.fold, 3)
    XCTAssertEqual(back.history.history["loss"]!.map(\.bitPattern).count, values.count)
    for (a, b) in zip(back.history.history["loss"]!, values) {
      XCTAssertTrue(a == b || (a.isNaN && b.isNaN), "\(a) != \(b)")
    }
    XCTAssertEqual(back.history.history["val_mae"], h.history["val_mae"])
    XCTAssertEqual(back.evaluation["mae"], 2.654_761_923_421_727_7)
    XCTAssertTrue(back.evaluation["loss"]!.isNaN)
    XCTAssertEqual(back.history.stoppedReason, h.stoppedReason)
    XCTAssertEqual(back.history.trainSamples, 303)
    XCTAssertEqual(back.seconds, 1.5)
  }

  func testAJobSpecSaysWhetherItIsASweep() throws {
    let data = JobDescription(
      dataset: "boston_housing", samples: nil, numWords: 10000, targetColumn: nil,
      normalize: false, validationSplit: 0, batchSize: 16, seed: 3, collective: "ring")
    XCTAssertNil(try FoldJobDescription.sweep(in: data.encoded()), "a training job")
    let sweep = FoldJobDescription(kfold: .init(normalize: true), data: data)
    XCTAssertEqual(try FoldJobDescription.sweep(in: sweep.encoded()), sweep)
    XCTAssertThrowsError(try FoldJobDescription.sweep(in: #"{"kfold": {"normalize": true}}"#))
    // An old worker cannot mistake a sweep for a training job.
    XCTAssertThrowsError(try JobDescription.decode(sweep.encoded()))
  }
}
