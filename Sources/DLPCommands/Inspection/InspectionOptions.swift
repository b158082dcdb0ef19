import ArgumentParser
import DLP
import Foundation

/// The model the looking-inside commands open: --model or --preset, weights, threads.
struct InspectedModel: ParsableArguments {
  @Option(help: "A built-in model: \(Preset.all.map(\.name).joined(separator: ", ")).") var preset: String?
  @Option(name: .customLong("model"), help: "A Keras 3 model.to_json() document.") var modelPath: String?
  @Option(help: "Weights written by --save-weights (default: the initial weights of --seed).") var loadWeights: String?
  @Option(help: "Seed of the initial weights when no --load-weights.") var seed: UInt64 = 0
  @Option(help: "BLAS threads.") var threads: Int?

  func validate() throws {
    if (preset == nil) == (modelPath == nil) { throw ValidationError("give one of --preset or --model") }
  }

  /// The model, uncompiled (no loss needed), with its weights.
  func open() throws -> Model {
    configureEngine(threads: threads)
    let model: Model
    if let path = modelPath {
      model = try KerasModelReader.read(path: path, seed: seed).0
    } else {
      model = try Preset.named(preset!).build(seed)
    }
    if let w = loadWeights { try WeightsFile.load(model, from: w) }
    return model
  }
}
