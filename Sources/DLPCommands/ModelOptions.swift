import ArgumentParser
import DLP
import Foundation

/// `--preset` / `--model` and the compile overrides, shared by train, evaluate, kfold, summary.
public struct ModelOptions: ParsableArguments {
  @Option(help: "A built-in model of the book: \(Preset.all.map(\.name).joined(separator: ", ")).")
  public var preset: String?

  @Option(
    name: .customLong("model"),
    help: "A Keras 3 model: a .keras file (its weights load with it) or a model.to_json() document.")
  public var modelPath: String?

  @Option(help: "Optimizer: sgd, rmsprop or adam (overrides the model's compile_config).")
  public var optimizer: String?

  @Option(help: "Learning rate (overrides the optimizer's).")
  public var learningRate: Float?

  @Option(help: "Loss name (overrides the model's).")
  public var loss: String?

  @Option(help: "Comma-separated metric names (overrides the model's).")
  public var metrics: String?

  @Option(
    help: "Freeze these layers or nested models (comma-separated names or paths like vgg16/block5_conv1; a trailing * matches a prefix). Applied after --unfreeze.")
  public var freeze: String?

  @Option(
    help: "Unfreeze these layers or nested models (a nested model: all its layers), e.g. the book's fine-tuning: --unfreeze vgg16 --freeze 'block1_*,block2_*,block3_*,block4_*'.")
  public var unfreeze: String?

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
      let model: Model
      let cc: KerasCompileConfig?
      var contents: KerasArchive.Contents?
      if path.hasSuffix(".keras") {
        (model, cc, contents) = try KerasArchive.read(path: path, seed: seed)
      } else {
        (model, cc) = try KerasModelReader.read(path: path, seed: seed)
      }
      let optimizer = try optimizer.map { try Optimizers.named($0, learningRate: learningRate) }
        ?? KerasObjects.parseOptimizer(cc?.optimizer, learningRate: learningRate)
      guard loss != nil || !(cc?.losses.isEmpty ?? true) else {
        throw DLPError.config("\(path) has no compile_config loss; pass --loss")
      }
      try model.compile(
        keras: cc, optimizer: optimizer, losses: try loss.map { [try Losses.named($0)] },
        metrics: metrics.map { [Self.split($0).map(MetricSpec.name)] })
      // A .keras file's optimizer state resumes with it (as keras.saving.load_model restores
      // it), unless another optimizer was asked for; --learning-rate still overrides the rate.
      if let contents, self.optimizer == nil {
        try KerasArchive.loadOptimizerState(model, from: contents)
        if let lr = learningRate { optimizer.learningRate = lr }
      }
      try applyFreezing(model)
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
    try applyFreezing(model)
    return (model, p)
  }

  /// --unfreeze, then --freeze (Keras's `trainable`: a nested model's flag reaches all its
  /// layers, and a layer inside a frozen model stays frozen).
  func applyFreezing(_ model: Model) throws {
    for (list, value) in [(unfreeze, true), (freeze, false)] {
      for name in list.map(Self.split) ?? [] {
        for layer in try model.layers(matching: name) { layer.trainable = value }
      }
    }
    model.updateTrainableRanges()
  }

  static func split(_ s: String) -> [String] {
    s.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }
}
