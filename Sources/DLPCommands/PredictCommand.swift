import ArgumentParser
import DLP
import Foundation

/// `dlp predict`: run a model on arrays from an .npz and write its outputs as .npz.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "predict", abstract: "Predict outputs for inputs in an .npz.")

  @OptionGroup var model: ModelOptions
  @Option(help: "Weights written by --save-weights.") var loadWeights: String
  @Option(help: "Inputs: one array per model input, named after the Input layer (or x).") var input: String
  @Option(help: "Where to write the outputs (.npz): one array per output, named after its layer (or y).") var output: String
  @Option(help: "Batch size.") var batchSize: Int = 128
  @Option(help: "BLAS threads.") var threads: Int?

  func validate() throws {
    if batchSize <= 0 { throw ValidationError("--batch-size must be positive. Received: \(batchSize)") }
  }

  func run() throws {
    try reportingErrors {
      configureEngine(threads: threads)
      let (m, _) = try model.makeModel(seed: 0)
      try WeightsFile.load(m, from: loadWeights)
      let arrays = try WeightsFile.read(input)
      let single = m.inputs.count == 1
      let xs = try m.inputs.map { i -> Tensor in
        let name = i.node.layer.name
        if let t = arrays[name] ?? (single ? arrays["x"] : nil) { return t }
        throw DLPError.data("\(input) has no array '\(name)'\(single ? " or 'x'" : "") (it has \(arrays.keys.sorted()))")
      }
      let shaped = try zip(xs, m.inputs).map { x, i -> Tensor in
        guard x.rowWidth == i.shape.reduce(1, *) else {
          throw DLPError.shape("input '\(i.node.layer.name)' expects samples of shape \(i.shape), \(input) has \(Array(x.shape.dropFirst()))")
        }
        return try x.reshaped(to: [x.shape[0]] + i.shape)
      }
      let rows = shaped.first?.shape.first ?? 0
      let ys = try m.predict(shaped, batchSize: FitOptions.effectiveBatchSize(batchSize, rows: rows))
      var writer = NPZWriter()
      for (y, o) in zip(ys, m.outputs) { try writer.add(m.outputs.count == 1 ? "y" : o.node.layer.name, y) }
      try writer.write(to: URL(fileURLWithPath: output))
    }
  }
}
