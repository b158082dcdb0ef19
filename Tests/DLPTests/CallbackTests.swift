import Foundation
import XCTest

@testable import DLP

/// Keras's callbacks, driven epoch by epoch with chosen logs, against what Keras's code does
/// with the same logs; the TFRecord framing; Python's format for checkpoint paths.
final class CallbackTests: XCTestCase {
  /// A small compiled model with an in-process backend, and a context for callbacks.
  func context(optimizer: Optimizer = SGD(learningRate: 0.1)) throws -> TrainingContext {
    let model = try Sequential([InputLayer(shape: [2]), Dense(2, activation: .softmax)])
    try model.compile(optimizer: optimizer, losses: [SparseCategoricalCrossentropy()], metrics: ["accuracy"])
    let data = try ArrayData(x: testTensor([4, 2], seed: 1), y: Tensor(shape: [4], scalars: [0, 1, 1, 0]))
    return TrainingContext(
      model: model, backend: try LocalBackend(model: model, data: [.train: data], batchSize: 4), epochs: 20, steps: 1)
  }

  /// Runs `callback` over epochs whose logs hold `values` under `key`; returns the epoch at
  /// whose end it asked to stop, or nil.
  func drive(_ callback: Callback, _ context: TrainingContext, key: String = "val_loss", _ values: [Double]) throws
    -> Int?
  {
    try callback.setContext(context)
    var logs: [String: Double] = [:]
    context.stopTraining = false
    try callback.onTrainBegin(logs: &logs)
    for (epoch, v) in values.enumerated() {
      var l = ["loss": 1.0, key: v]
      try callback.onEpochEnd(epoch, logs: &l)
      if context.stopTraining { return epoch }
    }
    return nil
  }

  func testEarlyStoppingStopsPatienceEpochsAfterTheBest() throws {
    let c = try context()
    // Best at epoch 2; patience 3 stops at the end of epoch 5.
    XCTAssertEqual(try drive(EarlyStopping(patience: 3), c, [5, 4, 3, 3.5, 3.2, 3.1, 2, 1]), 5)
    // patience 0: the first epoch without improvement stops (Keras needs epoch > 0).
    XCTAssertEqual(try drive(EarlyStopping(), c, [5, 4, 4.5]), 2)
    // min_delta: 3.95 is not better than 4 by more than 0.1.
    XCTAssertEqual(try drive(EarlyStopping(minDelta: 0.1, patience: 1), c, [5, 4, 3.95]), 2)
    // A tie is no improvement.
    XCTAssertEqual(try drive(EarlyStopping(patience: 1), c, [5, 4, 4]), 2)
    // start_from_epoch: epochs before it are not watched.
    XCTAssertEqual(try drive(EarlyStopping(patience: 1, startFromEpoch: 3), c, [1, 2, 3, 9, 9, 9]), 4)
    // baseline: improvements that do not beat it do not reset the wait (Keras: 2, and 3 without).
    XCTAssertEqual(try drive(EarlyStopping(patience: 2, baseline: 1), c, [5, 4, 4.5, 4.6]), 2)
    XCTAssertEqual(try drive(EarlyStopping(patience: 2), c, [5, 4, 4.5, 4.6]), 3)
    // Improving every epoch never stops, baseline or not (Keras returns before its check).
    XCTAssertNil(try drive(EarlyStopping(patience: 2, baseline: 1), c, [5, 4, 3, 2, 1.5]))
    // accuracy is maximised in auto mode (Keras reads the metric's direction).
    XCTAssertEqual(
      try drive(EarlyStopping(monitor: "val_accuracy", patience: 1), c, key: "val_accuracy", [0.5, 0.6, 0.55]), 2)
    XCTAssertNil(
      try drive(EarlyStopping(monitor: "val_accuracy", patience: 1), c, key: "val_accuracy", [0.5, 0.6, 0.7]))
    // A quantity whose direction cannot be guessed is refused, as Keras refuses it.
    XCTAssertThrowsError(try drive(EarlyStopping(monitor: "val_foo"), c, key: "val_foo", [1])) {
      XCTAssertTrue("\($0)".contains("val_foo"), "\($0)")
    }
  }

  func testRestoreBestWeightsGoesBackToTheBestEpoch() throws {
    let c = try context()
    let stop = try EarlyStopping(patience: 1, restoreBestWeights: true)
    try stop.setContext(c)
    var logs: [String: Double] = [:]
    try stop.onTrainBegin(logs: &logs)
    var snapshots: [[Float]] = []
    for (epoch, v) in [3.0, 2.0, 2.5].enumerated() {
      // Each epoch's weights are different.
      try c.model.parameters.load(c.model.parameters.snapshot().map { $0 + Float(epoch + 1) })
      snapshots.append(c.model.parameters.snapshot())
      var l = ["val_loss": v]
      try stop.onEpochEnd(epoch, logs: &l)
    }
    XCTAssertTrue(c.stopTraining)
    try stop.onTrainEnd(logs: &logs)
    XCTAssertEqual(c.model.parameters.snapshot(), snapshots[1])
    XCTAssertEqual(stop.bestEpoch, 1)
    XCTAssertEqual(stop.stoppedEpoch, 2)
  }

  func testReduceLROnPlateauFollowsKeras() throws {
    let c = try context(optimizer: SGD(learningRate: 0.1))
    let reduce = try ReduceLROnPlateau(factor: 0.5, patience: 2, cooldown: 1, minLR: 0.02)
    try reduce.setContext(c)
    var logs: [String: Double] = [:]
    try reduce.onTrainBegin(logs: &logs)
    // The rates Keras 3.15's ReduceLROnPlateau logs for the same val_loss sequence (run with
    // Keras): no improvement at 1, 2 -> halved at the end of 2; epoch 3 uses up the cooldown and
    // already counts, 4 halves again; 5 cooldown, 6 -> 0.02 = min_lr, then no change.
    var seen: [Double] = []
    for epoch in 0..<11 {
      var l = ["val_loss": 1.0]
      try reduce.onEpochEnd(epoch, logs: &l)
      seen.append(l["learning_rate"]!)
    }
    let f = { (x: Float) in Double(x) }
    XCTAssertEqual(
      seen, [f(0.1), f(0.1), f(0.1), f(0.05), f(0.05), f(0.025), f(0.025), f(0.02), f(0.02), f(0.02), f(0.02)])
    XCTAssertEqual(c.model.compiled!.optimizer.learningRate, 0.02)
    // A schedule's rate cannot be set, as in Keras.
    let scheduled = try context(optimizer: SGD())
    scheduled.model.compiled!.optimizer.schedule = try ExponentialDecay(
      initialLearningRate: 0.1, decaySteps: 1, decayRate: 0.5)
    let r2 = try ReduceLROnPlateau(patience: 0)
    XCTAssertThrowsError(try drive(r2, scheduled, [1, 1, 1])) { XCTAssertTrue("\($0)".contains("schedule"), "\($0)") }
  }

  func testCSVLoggerWritesKerasRows() throws {
    let path = NSTemporaryDirectory() + "dlp-csv-\(getpid()).csv"
    defer { try? FileManager.default.removeItem(atPath: path) }
    let logger = CSVLogger(path: path)
    var logs: [String: Double] = [:]
    try logger.onTrainBegin(logs: &logs)
    var e0 = ["loss": 0.5, "accuracy": 0.25]
    try logger.onEpochEnd(0, logs: &e0)
    var e1 = ["loss": 1e-05, "accuracy": Double.nan]
    try logger.onEpochEnd(1, logs: &e1)
    let text = try String(contentsOfFile: path, encoding: .utf8)
    // No validation: Keras adds val_ columns written NA.
    XCTAssertEqual(text, "epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.25,0.5,NA,NA\r\n1,nan,1e-05,NA,NA\r\n")
  }

  func testFitCallsHooksInKerasOrderAndStopsOnRequest() throws {
    final class Recorder: Callback {
      var events: [String] = []
      var stopAtBatch: Int?
      var context: TrainingContext?
      func setContext(_ context: TrainingContext) throws { self.context = context }
      func onTrainBegin(logs: inout [String: Double]) throws { events.append("train_begin") }
      func onTrainEnd(logs: inout [String: Double]) throws { events.append("train_end") }
      func onEpochBegin(_ epoch: Int, logs: inout [String: Double]) throws { events.append("epoch_begin \(epoch)") }
      func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
        events.append("epoch_end \(epoch) \(logs.keys.sorted().joined(separator: ","))")
        logs["extra"] = 1
      }
      func onTrainBatchEnd(_ batch: Int, logs: inout [String: Double]) throws {
        events.append("batch_end \(batch)")
        if batch == stopAtBatch { context?.stopTraining = true }
      }
      func onTestBegin(logs: inout [String: Double]) throws { events.append("test_begin") }
      func onTestEnd(logs: inout [String: Double]) throws { events.append("test_end") }
    }
    let model = try Sequential([InputLayer(shape: [2]), Dense(2, activation: .softmax)])
    try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    let data = try ArrayData(
      x: testTensor([10, 2], seed: 3), y: Tensor(shape: [10], scalars: [0, 1, 1, 0, 1, 0, 0, 1, 1, 0]))
    let r = Recorder()
    r.stopAtBatch = 1
    let history = try model.fit(
      data, options: FitOptions(epochs: 5, batchSize: 4, shuffle: false), validationSplit: 0.2, callbacks: [r])
    XCTAssertEqual(
      r.events,
      [
        "train_begin", "epoch_begin 0", "batch_end 0", "batch_end 1", "test_begin", "test_end",
        "epoch_end 0 accuracy,loss,val_accuracy,val_loss", "train_end",
      ])
    // The History comes after the callbacks: it sees what they added.
    XCTAssertEqual(history.history["extra"], [1])
    XCTAssertEqual(history.epochs, [0])
  }

  func testTFRecordFramingAndCRC32C() throws {
    XCTAssertEqual(TFRecord.crc32c(Array("123456789".utf8)), 0xE306_9283)  // the CRC-32C check value
    let payload = Array("hello".utf8)
    let framed = TFRecord.frame(payload)
    XCTAssertEqual(framed.count, 16 + payload.count)
    XCTAssertEqual(try TFRecord.records(framed + framed, source: "t"), [payload, payload])
    var corrupt = framed
    corrupt[13] ^= 1
    XCTAssertThrowsError(try TFRecord.records(corrupt, source: "t")) { XCTAssertTrue("\($0)".contains("CRC"), "\($0)") }
    XCTAssertThrowsError(try TFRecord.records(Array(framed.dropLast()), source: "t"))
    let event = try EventMessages.decode(
      EventMessages.scalarEvent(tag: "epoch_loss", value: 0.25, step: 3, wallTime: 1.5))
    XCTAssertEqual(event.step, 3)
    XCTAssertEqual(event.wallTime, 1.5)
    XCTAssertEqual(event.values.first?.tag, "epoch_loss")
    XCTAssertEqual(event.values.first?.plugin, "scalars")
    XCTAssertEqual(event.values.first?.float, 0.25)
    XCTAssertEqual(try EventMessages.decode(EventMessages.fileVersionEvent(wallTime: 2)).fileVersion, "brain.Event:2")
  }

  func testCheckpointPathsArePythonFormatted() throws {
    let cases: [(String, [String: PythonFormat.Value], String)] = [
      ("{epoch:02d}", ["epoch": .int(3)], "03"),
      ("e{epoch:03d}-{val_loss:.2f}.keras", ["epoch": .int(12), "val_loss": .double(0.123456)], "e012-0.12.keras"),
      ("{val_loss}", ["val_loss": .double(0.1)], "0.1"),
      ("{x:>8.3f}|", ["x": .double(-1.5)], "  -1.500|"),
      ("{x:+.1e}", ["x": .double(12345.678)], "+1.2e+04"),
      ("{x:g}", ["x": .double(0.0000123)], "1.23e-05"),
      ("{x:.1%}", ["x": .double(0.256)], "25.6%"),
      ("{x:,}", ["x": .int(1_234_567)], "1,234,567"),
      ("{x:08.2f}", ["x": .double(-3.14159)], "-0003.14"),
      ("{{literal}}-{epoch}", ["epoch": .int(7)], "{literal}-7"),
      ("{x:<6d}|", ["x": .int(42)], "42    |"),
      ("{x:^7}|", ["x": .int(5)], "   5   |"),
      ("{x:.3g}", ["x": .double(1234.5)], "1.23e+03"),
      ("{x}", ["x": .double(1e-05)], "1e-05"),
      ("{x:f}", ["x": .int(2)], "2.000000"),
    ]
    for (template, values, want) in cases {
      XCTAssertEqual(try PythonFormat.format(template, values), want, template)
    }
    XCTAssertThrowsError(try PythonFormat.format("{val_acc}", ["val_loss": .double(1)])) {
      XCTAssertTrue("\($0)".contains("val_acc"), "\($0)")
    }
    XCTAssertThrowsError(try PythonFormat.format("{val_loss:d}", ["val_loss": .double(1)]))
    XCTAssertThrowsError(try ModelCheckpoint(filepath: "model.h5")) {
      XCTAssertTrue("\($0)".contains(".keras"), "\($0)")
    }
  }
}
