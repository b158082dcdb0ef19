import ArgumentParser
import DLP
import Foundation

/// `dlp activations`: the book's grid of a layer's channels for one input.
struct ActivationsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "activations", abstract: "Draw every channel of a layer's output for one input.",
    discussion: """
      Each channel is standardised (zero mean, unit deviation, times 64, plus 128, clipped) and \
      drawn in grayscale, --per-row to a row with 1-pixel gaps (Deep Learning with Python, ch. 9). \
      --output grid.png draws it; act.npz writes the activation (h, w, channels) as `activation`.
      """)

  @OptionGroup var model: InspectedModel
  @Option(help: "An image (PNG, JPEG; resized to the model's input) or an .npz with array x.") var input: String
  @Option(help: "Which sample of an .npz input.") var index: Int = 0
  @Option(help: "The layer (a name, or a path into a nested model).") var layer: String
  @Option(help: "Where to write: .png (the grid) or .npz.") var output: String
  @Option(help: "Channels per row of the grid.") var perRow: Int = 16
  @Option(help: "Draw each activation as scale x scale pixels.") var scale: Int = 2

  func validate() throws {
    if perRow < 1 || scale < 1 { throw ValidationError("--per-row and --scale must be positive") }
  }

  func run() throws {
    try reportingErrors {
      let m = try model.open()
      let input = try InspectionInput.load(self.input, for: m, index: index)
      let activation = try m.intermediateModel(outputs: [layer]).predict(input.x)
      let sample = try activation.reshaped(to: Array(activation.shape.dropFirst()))
      if output.lowercased().hasSuffix(".png") {
        let grid = try ActivationGrid.tile(sample, perRow: perRow)
        try PNGWriter.write(
          pixels: enlarged(grid.pixels, height: grid.height, width: grid.width, channels: 1, by: scale),
          height: grid.height * scale, width: grid.width * scale, channels: 1, to: URL(fileURLWithPath: output))
        printLine("layer '\(layer)': \(sample.shape) -> \(grid.height * scale) x \(grid.width * scale) grid")
      } else {
        try writeArrays([("activation", sample)], to: output)
      }
    }
  }
}
