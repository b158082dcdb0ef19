import ArgumentParser
import DLP
import Foundation

/// `--preset` / `--model` and the compile overrides, shared by train, evaluate, kfold, summary.
public struct ModelOptions: ParsableArguments {
  @Option(help: "A built-in model of the book: \(Preset.all.map(\.name).joined(separator: ", ")).")
  public var preset: String?

  @Option(name: .customLong("model"), help: "A Keras 3 model.to_json() document.")
  public var modelPath: String?

  @Option(help: "Optimizer: sgd, rmsprop or adam (overrides the model's compile_config).")
  public var optimizer: String?

  @Option(help: "Learning rate (overrides the optimizer's).")
  public var learningRate: Float?

  @Option(help: "Loss name (overrides the model's).")
  public var loss: String?

  @Option(help: "Comma-separated metric names (overrides the model's).")
  public var metrics: String?

  public init() {}

  public func validate() throws {
    if preset != nil && modelPath != nil { throw ValidationError("give either --preset or --model, not both") }
  }

  public var preset_: Preset? { get throws { try preset.map(Preset.named) } }

  /// Builds and compiles the model; the preset or JSON gives defaults, flags override them.
  /// `sequenceLength`: the steps of the data's samples (`--sequence-length`), for a sequence
  /// preset built for another length than its default.
  public func makeModel(seed: UInt64, requirePreset: Bool = true, sequenceLength: Int? = nil) throws -> (Model, Preset?) {
    if let path = modelPath {
      let (model, cc) = try KerasModelReader.read(path: path, seed: seed)
      let optimizer = try optimizer.map { try Optimizers.named($0, learningRate: learningRate) }
        ?? KerasObjects.parseOptimizer(cc?.optimizer, learningRate: learningRate)
      let lossNames = loss.map { [$0] } ?? cc?.losses ?? []
      guard !lossNames.isEmpty else {
        throw DLPError.config("\(path) has no compile_config loss; pass --loss")
      }
      let metricNames = metrics.map(Self.split) ?? cc?.metrics ?? []
      try model.compile(
        optimizer: optimizer, losses: lossNames.map(Losses.named), metrics: metricNames,
        lossWeights: loss == nil ? cc?.lossWeights : nil)
      return (model, nil)
    }
    guard let p = try preset_ else {
      throw DLPError.config("give a model: --preset NAME (\(Preset.all.map(\.name).joined(separator: ", "))) or --model MODEL.json")
    }
    let model: Model
    if let length = sequenceLength, let build = p.buildForLength {
      model = try build(seed, length)
    } else {
      model = try p.build(seed)
    }
    try model.compile(
      optimizer: Optimizers.named(optimizer ?? p.optimizer, learningRate: learningRate),
      losses: [Losses.named(loss ?? p.loss)], metrics: metrics.map(Self.split) ?? p.metrics)
    return (model, p)
  }

  static func split(_ s: String) -> [String] {
    s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }
}
