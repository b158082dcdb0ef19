import DLP
import Foundation

/// One training job as the CLI runs it: fit (in-process or on workers), then evaluate on the
/// test split, and the report.
struct TrainingSession {
  let model: Model
  let data: PreparedData
  let options: FitOptions
  let validationSplit: Double
  let run: RunOptions

  struct Outcome {
    var history: History
    var evaluation: [String: Double]?
    var workers: Int
    var datasetName: String

    /// Prints the test figures, writes the report, and fails when training hit a NaN.
    func finish(report: String?) throws {
      if let ev = evaluation {
        let text = ev.keys.sorted().map { String(format: "%@: %.4f", $0, ev[$0]!) }.joined(separator: " - ")
        printLine("test \(text)")
      }
      if let path = report { try writeJSONAtomically(json, to: path) }
      if let reason = history.stoppedReason { throw DLPError.training(reason) }
    }

    var json: JSONValue {
      var o: [String: JSONValue] = [
        "history": history.json,
        "train_seconds": JSONValue(history.trainSeconds),
        "samples_per_second": JSONValue(history.samplesPerSecond),
        "epoch_seconds": JSONValue(history.epochSeconds),
        "workers": JSONValue(workers),
        "dataset": JSONValue(datasetName),
      ]
      if let ev = evaluation { o["evaluation"] = .object(ev.mapValues { JSONValue($0) }) }
      if let r = history.stoppedReason { o["stopped_reason"] = JSONValue(r) }
      return .object(o)
    }
  }

  func execute() throws -> Outcome {
    var train = data.train
    var validation: ArrayData?
    if validationSplit > 0 {
      let splitAt = Int(Double(train.count) * (1 - validationSplit))
      validation = try train.slice(splitAt..<train.count)
      train = try train.slice(0..<splitAt)
    }
    var roles: [DataRole: ArrayData] = [.train: train]
    if let v = validation { roles[.validation] = v }
    if let t = data.test { roles[.test] = t }
    guard run.workers == 0 else {
      throw DLPError.config("--workers \(run.workers): distributed training is not available in this build yet")
    }
    let backend = try LocalBackend(model: model, data: roles, batchSize: options.batchSize, seed: options.seed)
    let history = try Trainer.fit(
      model: model, backend: backend, trainCount: train.count, validationCount: validation?.count ?? 0,
      options: options, progress: run.progress)
    var evaluation: [String: Double]?
    if let t = data.test, history.stoppedReason == nil {
      evaluation = try Trainer.evaluate(model: model, backend: backend, role: .test, count: t.count, batchSize: options.batchSize)
    }
    return Outcome(history: history, evaluation: evaluation, workers: run.workers, datasetName: data.datasetName)
  }
}
