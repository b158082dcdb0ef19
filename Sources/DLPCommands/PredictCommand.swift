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

  func run() throws {
    try reportingErrors {
      configureEngine(threads: threads)
      let (m, _) = try model.makeModel(seed: 0)
      try WeightsFile.load(m, from: loadWeights)
      // Each array in its own element type: integer ids reach an int32 input bit for bit.
      let archive = try NPZArchive(contentsOf: URL(fileURLWithPath: input))
      let single = m.inputs.count == 1
      let xs = try m.inputs.map { i -> SampleArray in
        let name = i.node.layer.name
        if archive.contains(name) { return try archive.array(name).samples() }
        if single && archive.contains("x") { return try archive.array("x").samples() }
        throw DLPError.data("\(input) has no array '\(name)'\(single ? " or 'x'" : "") (it has \(archive.arrayNames.sorted()))")
      }
      let shaped = try zip(xs, m.inputs).map { x, i -> SampleArray in
        guard x.rowWidth == i.shape.reduce(1, *) else {
          throw DLPError.shape("input '\(i.node.layer.name)' expects samples of shape \(i.shape), \(input) has \(Array(x.shape.dropFirst()))")
        }
        return try x.reshaped(to: [x.rows] + i.shape)
      }
      let ys = try m.predict(ArrayData(inputs: shaped), batchSize: batchSize)
      var writer = NPZWriter()
      for (y, o) in zip(ys, m.outputs) { try writer.add(m.outputs.count == 1 ? "y" : o.node.layer.name, y) }
      try writer.write(to: URL(fileURLWithPath: output))
    }
  }
}
