import Foundation
import XCTest

@testable import DLP

/// Loss and metric objects of Keras compile configs, their arguments, and learning-rate
/// schedules, against the values Keras computed (Tests/Fixtures/keras_files/expected.json).
final class LossConfigTests: XCTestCase {
  func lossValue(_ loss: any Loss, yTrue: [Float], yPred: [Float], rows: Int) -> Double {
    let width = yPred.count / rows
    var prediction = [Float](repeating: 0, count: yPred.count)
    let sum = yPred.withUnsafeBufferPointer { o in
      yTrue.withUnsafeBufferPointer { t in
        prediction.withUnsafeMutableBufferPointer { p in
          loss.evaluate(
            output: o.baseAddress!, target: t.baseAddress!, rows: rows, width: width, fused: loss.fromLogits,
            prediction: p.baseAddress!, grad: nil, gradScale: 1)
        }
      }
    }
    return sum / Double(rows)
  }

  func testLossObjectsComputeKerasValues() throws {
    let cases = try XCTUnwrap(KerasFileTests.expected()["losses"]?.object)
    XCTAssertEqual(cases.count, 6)
    for (name, c) in cases {
      let loss = try Losses.parse(c["config"]!, context: name)
      let yPred = (c["y_pred"]?.array ?? []).flatMap { $0.array ?? [] }.compactMap(\.double).map(Float.init)
      let rowsOfTrue = c["y_true"]?.array ?? []
      let yTrue = rowsOfTrue.flatMap { $0.array ?? [$0] }.compactMap(\.double).map(Float.init)
      let v = lossValue(loss, yTrue: yTrue, yPred: yPred, rows: rowsOfTrue.count)
      XCTAssertEqual(v, c["value"]!.double!, accuracy: 1e-6, name)
    }
  }

  func testSparseCrossEntropyNormalisesProbabilities() {
    // Every probability halved: Keras divides each row by its sum, so the loss is unchanged.
    let whole = lossValue(SparseCategoricalCrossentropy(), yTrue: [1], yPred: [0.2, 0.5, 0.3], rows: 1)
    let halved = lossValue(SparseCategoricalCrossentropy(), yTrue: [1], yPred: [0.1, 0.25, 0.15], rows: 1)
    XCTAssertEqual(whole, -log(0.5), accuracy: 1e-6)
    XCTAssertEqual(halved, whole, accuracy: 1e-6)
  }

  func testUnknownAndUnsupportedArgumentsAreRefusedByName() {
    func refuses(_ json: String, _ words: [String], line: UInt = #line) {
      XCTAssertThrowsError(try Losses.parse(JSONValue.parse(json), context: "test"), line: line) { e in
        for w in words { XCTAssertTrue("\(e)".contains(w), "\(e) should name \(w)", line: line) }
      }
    }
    refuses(#"{"class_name": "SparseCategoricalCrossentropy", "config": {"from_logit": true}}"#, ["from_logit"])
    refuses(#"{"class_name": "CategoricalCrossentropy", "config": {"reduction": "sum"}}"#, ["reduction", "sum"])
    refuses(#"{"class_name": "SparseCategoricalCrossentropy", "config": {"ignore_class": 0}}"#, ["ignore_class"])
    refuses(#"{"class_name": "BinaryCrossentropy", "config": {"label_smoothing": 2}}"#, ["label_smoothing"])
    refuses(#"{"class_name": "Huber", "config": {}}"#, ["Huber"])
    XCTAssertThrowsError(
      try Metrics.parse(JSONValue.parse(#"{"class_name": "AUC", "config": {"curve": "PR"}}"#), context: "m")
    ) {
      XCTAssertTrue("\($0)".contains("curve"), "\($0)")
    }
    XCTAssertThrowsError(
      try Metrics.parse(JSONValue.parse(#"{"class_name": "AUC", "config": {"curv": "ROC"}}"#), context: "m")
    ) {
      XCTAssertTrue("\($0)".contains("curv"), "\($0)")
    }
  }

  func testLossObjectsRoundTripThroughTheCompileConfig() throws {
    let input = Input(shape: [3])
    let out = try Dense(4)(input)
    let model = try Model(inputs: [input], outputs: [out])
    try model.compile(
      optimizer: SGD(), losses: [CategoricalCrossentropy(fromLogits: true, labelSmoothing: 0.1)],
      metricSpecs: [[.metric(BinaryAccuracy(name: "acc")), .name("accuracy")]])
    let (back, cc) = try KerasModelReader.read(JSONValue.parse(model.toJSON()))
    try back.compile(keras: cc)
    let loss = try XCTUnwrap(back.compiled!.heads[0].loss as? CategoricalCrossentropy)
    XCTAssertTrue(loss.fromLogits)
    XCTAssertEqual(loss.labelSmoothing, 0.1, accuracy: 1e-7)
    XCTAssertEqual(back.compiled!.heads[0].metrics.map(\.name), ["acc", "accuracy"])
    XCTAssertTrue(back.compiled!.heads[0].metrics[0] is BinaryAccuracy)
    XCTAssertTrue(back.compiled!.heads[0].metrics[1] is CategoricalAccuracy)
  }

  func testSchedulesGiveKerasRates() throws {
    let expected = try KerasFileTests.expected()
    let schedules = try XCTUnwrap(expected["schedules"]?.object)
    XCTAssertEqual(schedules.count, 5)
    for (name, s) in schedules {
      let schedule = try LearningRateSchedules.parse(s["config"]!, context: name)
      let steps = s["steps"]!.array!.compactMap(\.int)
      let rates = s["rates"]!.array!.compactMap(\.double)
      for (step, rate) in zip(steps, rates) {
        XCTAssertEqual(
          Double(schedule.rate(atStep: step)), rate, accuracy: 1e-7 + 1e-6 * rate, "\(name) at step \(step)")
      }
      // The config written back parses to the same schedule.
      let again = try LearningRateSchedules.parse(LearningRateSchedules.serialize(schedule), context: name)
      XCTAssertEqual(steps.map { again.rate(atStep: $0) }, steps.map { schedule.rate(atStep: $0) })
    }
  }

  func testOptimizerStepsWithItsScheduleByIteration() throws {
    let expected = try KerasFileTests.expected()["schedule_optimizer"]!
    let optimizer = try KerasObjects.parseOptimizer(expected["compile_config"]!["optimizer"])
    XCTAssertNotNil(optimizer.schedule)
    let model = try Sequential([InputLayer(shape: [2]), Dense(1)])
    try model.compile(optimizer: optimizer, losses: [MeanSquaredError()])
    let x = testTensor([12, 2], seed: 1)
    let y = testTensor([12, 1], seed: 2)
    try model.fit(ArrayData(x: x, y: y), options: FitOptions(epochs: 1, batchSize: 4, shuffle: false))
    XCTAssertEqual(optimizer.iterations, expected["iterations"]!.int!)
    let context = TrainingContext(
      model: model, backend: try LocalBackend(model: model, data: [:], batchSize: 4), epochs: 1, steps: 1)
    XCTAssertEqual(Double(context.learningRate), expected["learning_rate"]!.double!, accuracy: 1e-8)
    // The schedule travels in the optimizer's config (what workers compile from).
    let config = KerasObjects.optimizer(optimizer)
    XCTAssertEqual(config["config"]?["learning_rate"]?["class_name"]?.string, "ExponentialDecay")
  }
}
