import Foundation
import XCTest

@testable import DLP

final class ValidationCrossValidationTests: XCTestCase {
  /// y = x . w + 3 + noise, features on very different scales (as Boston's are).
  func regression(_ n: Int, seed: UInt64) throws -> ArrayData {
    var rng = SeededGenerator(seed: seed)
    let scales: [Float] = [1, 10, 100, 0.1]
    let w: [Float] = [2, -0.3, 0.02, 15]
    var x: [Float] = []
    var y: [Float] = []
    for _ in 0..<n {
      var t: Float = 3
      for j in 0..<4 {
        let v = rng.nextNormal() * scales[j] + scales[j]
        x.append(v)
        t += w[j] * v
      }
      y.append(t + rng.nextNormal() * 0.1)
    }
    return try ArrayData(
      x: Tensor(shape: [n, 4], scalars: x), y: Tensor(shape: [n, 1], scalars: y))
  }

  /// An auto-named model: each call gets new layer names (dense_7, ...), which must not matter.
  func makeMLP(_ seed: UInt64) throws -> Model {
    let m = try Sequential(
      [
        InputLayer(shape: [4]), Dense(16, activation: .relu), Dense(16, activation: .relu),
        Dense(1),
      ], seed: seed)
    try m.compile(optimizer: "rmsprop", loss: "mse", metrics: ["mae"], learningRate: 0.01)
    return m
  }

  func columnStats(_ t: Tensor) -> (mean: [Double], std: [Double]) {
    let n = t.shape[0]
    let w = t.rowWidth
    var mean = [Double](repeating: 0, count: w)
    var sq = [Double](repeating: 0, count: w)
    for r in 0..<n { for c in 0..<w { mean[c] += Double(t.scalars[r * w + c]) / Double(n) } }
    for r in 0..<n {
      for c in 0..<w { sq[c] += pow(Double(t.scalars[r * w + c]) - mean[c], 2) / Double(n) }
    }
    return (mean, sq.map { $0.squareRoot() })
  }

  func testNormalisationStatisticsComeFromTheTrainingRowsOnly() throws {
    var data = try regression(40, seed: 1)
    let task = try KFoldPlan(folds: 4).tasks(count: 40)[1]
    // Make the validation rows wildly different: statistics that saw them would be far off.
    var x = data.inputs[0].floats()
    for i in task.validationIndices { for c in 0..<4 { x[i * 4 + c] = x[i * 4 + c] * 50 + 1000 } }
    data.inputs[0] = SampleArray(try Tensor(shape: [40, 4], scalars: x))

    let parts = try CrossValidation.partitions(task: task, data: data, normalize: true)
    let trainStats = columnStats(parts.train.inputs[0].tensor())
    for c in 0..<4 {
      XCTAssertEqual(trainStats.mean[c], 0, accuracy: 1e-5, "training rows normalised to mean 0")
      XCTAssertEqual(trainStats.std[c], 1, accuracy: 1e-4, "training rows normalised to std 1")
    }
    let raw = columnStats(try data.gather(task.trainIndices).inputs[0].tensor())
    XCTAssertEqual(parts.normalizers.count, 1)
    for c in 0..<4 {
      XCTAssertEqual(
        Double(parts.normalizers[0].mean[c]), raw.mean[c], accuracy: 1e-3 * max(1, abs(raw.mean[c]))
      )
    }
    // Validation rows: transformed with the training statistics, not their own.
    let v = parts.validation.inputs[0].floats()
    for (k, i) in task.validationIndices.enumerated() {
      for c in 0..<4 {
        let expected = (x[i * 4 + c] - Float(raw.mean[c])) / Float(raw.std[c])
        XCTAssertEqual(v[k * 4 + c], expected, accuracy: 1e-3 * max(1, abs(expected)))
      }
    }
    XCTAssertEqual(
      parts.validation.targets[0].floats(),
      try data.gather(task.validationIndices).targets[0].floats())
  }

  func testValidationRowsDoNotInfluenceTraining() throws {
    // Training only depends on the training rows: changing the validation fold's features must
    // leave the training loss curve unchanged (it would not if they fed the normaliser).
    let data = try regression(60, seed: 2)
    var altered = data
    let task = try KFoldPlan(folds: 3, shuffle: true, seed: 4).tasks(count: 60)[2]
    var x = data.inputs[0].floats()
    for i in task.validationIndices { for c in 0..<4 { x[i * 4 + c] += 500 } }
    altered.inputs[0] = SampleArray(try Tensor(shape: [60, 4], scalars: x))
    let options = CrossValidationOptions(epochs: 3, batchSize: 8)
    let a = try CrossValidation.run(
      task: task, data: data, makeModel: makeMLP, options: options, normalize: true)
    let b = try CrossValidation.run(
      task: task, data: altered, makeModel: makeMLP, options: options, normalize: true)
    XCTAssertEqual(a.history.history["loss"], b.history.history["loss"])
    XCTAssertEqual(a.history.history["mae"], b.history.history["mae"])
    XCTAssertNotEqual(a.evaluation["mae"], b.evaluation["mae"])
  }

  func testSummaryMath() {
    func result(_ fold: Int, mae: Double, loss: Double, curve: [Double]) -> FoldResult {
      var h = History()
      for (e, v) in curve.enumerated() {
        h.append(epoch: e, logs: ["val_mae": v, "loss": v * 2], seconds: 1)
      }
      return FoldResult(repeat: 0, fold: fold, history: h, evaluation: ["mae": mae, "loss": loss])
    }
    let s = CrossValidationSummary([
      result(0, mae: 1, loss: 10, curve: [4, 3, 2]), result(1, mae: 2, loss: 10, curve: [6, 5, 4]),
      result(2, mae: 3, loss: 10, curve: [5, 4, 3]), result(3, mae: 4, loss: 10, curve: [1, 2, 3]),
    ])
    XCTAssertEqual(s.mean["mae"]!, 2.5, accuracy: 1e-12)
    // Population std (numpy's np.std, ddof=0): sqrt(((1.5^2 + 0.5^2) * 2) / 4) = sqrt(1.25).
    XCTAssertEqual(s.std["mae"]!, 1.25.squareRoot(), accuracy: 1e-12)
    XCTAssertEqual(s.mean["loss"]!, 10, accuracy: 1e-12)
    XCTAssertEqual(s.std["loss"]!, 0, accuracy: 1e-12)
    XCTAssertEqual(s.meanHistory["val_mae"]!, [4, 3.5, 3])
    XCTAssertEqual(s.meanHistory["loss"]!, [8, 7, 6])
    XCTAssertEqual(s.description, "loss 10.0000 ± 0.0000 - mae 2.5000 ± 1.1180")

    // A fold that stopped early shortens the mean curve; a key missing from a fold is left out.
    var short = result(4, mae: 5, loss: 10, curve: [2, 2])
    short.evaluation["extra"] = 1
    let t = CrossValidationSummary([result(0, mae: 1, loss: 10, curve: [4, 3, 2]), short])
    XCTAssertEqual(t.meanHistory["val_mae"]!, [3, 2.5])
    XCTAssertNil(t.mean["extra"])
    XCTAssertEqual(t.std["mae"]!, 2, accuracy: 1e-12)
    let json = t.json
    XCTAssertEqual(Set(json.keys), ["folds", "mean", "std", "mean_history"])
    XCTAssertEqual(json["folds"]?.array?.count, 2)
    XCTAssertEqual(json["folds"]?.array?[1]["fold"], JSONValue(4))
    XCTAssertEqual(
      Set(json["folds"]!.array![0].object!.keys), ["repeat", "fold", "history", "evaluation"])
    XCTAssertTrue(CrossValidationSummary([]).mean.isEmpty)
  }

  func testSweepIsDeterministicAndLearns() throws {
    let data = try regression(200, seed: 3)
    let tasks = try KFoldPlan(folds: 4, shuffle: true, seed: 21).tasks(count: 200)
    let options = CrossValidationOptions(epochs: 15, batchSize: 16)
    let a = try InProcessFoldRunner(data: data, normalize: true, makeModel: makeMLP).run(
      tasks: tasks, options: options)
    var seen: [Int] = []
    // Run again, tasks in reverse order: every task's result is the same whoever runs it, when.
    let runner = InProcessFoldRunner(data: data, normalize: true, makeModel: makeMLP)
    let b = try runner.run(tasks: tasks.reversed(), options: options) { seen.append($0.fold) }
    XCTAssertEqual(seen, [3, 2, 1, 0])
    XCTAssertEqual(a.count, 4)
    XCTAssertEqual(a.map(\.fold), [0, 1, 2, 3])
    for (x, y) in zip(a, b.reversed()) {
      XCTAssertEqual(x.fold, y.fold)
      XCTAssertEqual(x.evaluation, y.evaluation)
      XCTAssertEqual(x.history.history, y.history.history)
    }
    for r in a {
      XCTAssertEqual(r.history.history["val_mae"]?.count, 15)
      XCTAssertEqual(r.history.trainSamples, 150)
      XCTAssertEqual(r.trainedSamples, 150 * 15)
      XCTAssertEqual(r.evaluation["mae"], r.history.history["val_mae"]!.last)
      XCTAssertEqual(r.evaluation["loss"], r.history.history["val_loss"]!.last)
      XCTAssertLessThan(
        r.evaluation["mae"]!, r.history.history["val_mae"]![0] / 2, "fold \(r.fold) did not learn")
    }
    // The evaluation is what evaluating the fold's validation rows gives (the book's model.evaluate).
    let s = CrossValidationSummary(a)
    XCTAssertEqual(s.meanHistory["val_mae"]?.count, 15)
    // Another seed gives other folds and other scores.
    let other = try KFoldPlan(folds: 4, shuffle: true, seed: 22).tasks(count: 200)
    let c = try runner.run(tasks: other, options: options)
    XCTAssertNotEqual(c.map(\.evaluation), a.map(\.evaluation))
  }

  func testIteratedSweepWithDropoutIsDeterministicThroughABlueprint() throws {
    // Dropout masks are keyed by layer name: a blueprint gives every copy the same names.
    let template = try Sequential(
      [InputLayer(shape: [4]), Dense(16, activation: .relu), Dropout(0.2), Dense(1)], seed: 0)
    try template.compile(optimizer: "adam", loss: "mse", metrics: ["mae"], learningRate: 0.01)
    let blueprint = try ModelBlueprint(template)
    let m1 = try blueprint.make(seed: 5)
    let m2 = try blueprint.make(seed: 5)
    XCTAssertEqual(m1.layers.map(\.name), template.layers.map(\.name))
    XCTAssertEqual(m1.layers.map(\.name), m2.layers.map(\.name))
    XCTAssertEqual(m1.parameters.snapshot(), m2.parameters.snapshot())
    XCTAssertEqual(m1.compiled?.optimizer.learningRate, 0.01)
    XCTAssertTrue(m1.compiled?.optimizer is Adam)
    XCTAssertEqual(m1.compiled?.heads.first?.metrics.map(\.name), ["mae"])

    let data = try regression(90, seed: 6)
    let tasks = try IteratedKFoldPlan(folds: 3, repeats: 2, seed: 1).tasks(count: 90)
    let options = CrossValidationOptions(epochs: 4, batchSize: 10)
    let a = try InProcessFoldRunner(data: data, normalize: true, makeModel: blueprint.make).run(
      tasks: tasks, options: options)
    let b = try InProcessFoldRunner(data: data, normalize: true, makeModel: blueprint.make).run(
      tasks: tasks, options: options)
    XCTAssertEqual(a, b)
    XCTAssertEqual(a.map(\.repeat), [0, 0, 0, 1, 1, 1])
    XCTAssertEqual(Set(a.map { $0.evaluation["mae"]! }).count, 6)
  }

  func testFoldResultIsCodable() throws {
    let data = try regression(40, seed: 7)
    let task = try KFoldPlan(folds: 2).tasks(count: 40)[0]
    let r = try CrossValidation.run(
      task: task, data: data, makeModel: makeMLP,
      options: CrossValidationOptions(epochs: 2, batchSize: 8), normalize: false)
    let decoded = try JSONDecoder().decode(FoldResult.self, from: JSONEncoder().encode(r))
    XCTAssertEqual(decoded, r)
    XCTAssertEqual(decoded.history.epochSeconds, r.history.epochSeconds)
    XCTAssertEqual(decoded.seconds, r.seconds)
  }

  func testZeroEpochsStillEvaluatesAndFinalModelIsTested() throws {
    let data = try regression(40, seed: 8)
    let task = try KFoldPlan(folds: 4).tasks(count: 40)[3]
    let r = try CrossValidation.run(
      task: task, data: data, makeModel: makeMLP,
      options: CrossValidationOptions(epochs: 0, batchSize: 8), normalize: true)
    XCTAssertTrue(r.history.epochs.isEmpty)
    XCTAssertEqual(Set(r.evaluation.keys), ["loss", "mae"])

    let test = try regression(30, seed: 9)
    let final = try CrossValidation.trainFinal(
      data: data, test: test, makeModel: makeMLP, seed: 1,
      options: CrossValidationOptions(epochs: 3, batchSize: 8),
      normalize: true)
    XCTAssertEqual(final.history.history["loss"]?.count, 3)
    XCTAssertNil(final.history.history["val_loss"])
    XCTAssertEqual(Set(final.evaluation!.keys), ["loss", "mae"])
    let again = try CrossValidation.trainFinal(
      data: data, test: test, makeModel: makeMLP, seed: 1,
      options: CrossValidationOptions(epochs: 3, batchSize: 8),
      normalize: true)
    XCTAssertEqual(again.evaluation, final.evaluation)
    XCTAssertNil(
      try CrossValidation.trainFinal(
        data: data, test: nil, makeModel: makeMLP, seed: 1,
        options: CrossValidationOptions(epochs: 1), normalize: false
      ).evaluation)
  }

  func testBadTaskIndicesAreReported() throws {
    let data = try regression(10, seed: 1)
    let bad = FoldTask(
      repeat: 0, fold: 2, seed: 1, trainIndices: [0, 1, 12], validationIndices: [3])
    XCTAssertThrowsError(
      try CrossValidation.run(
        task: bad, data: data, makeModel: makeMLP, options: CrossValidationOptions(epochs: 1),
        normalize: false)
    ) { XCTAssertTrue("\($0)".contains("sample 12"), "\($0)") }
  }
}
