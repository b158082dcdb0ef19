import ArgumentParser
import DLP
import Foundation

/// `dlp filters`: the input patterns convolution filters respond to most.
struct FiltersCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "filters", abstract: "Draw the input patterns that filters of a layer respond to most.",
    discussion: """
      Gradient ascent in input space (Deep Learning with Python, ch. 9): from a uniform image in \
      [0.4, 0.6] of the model's input shape, --iterations steps of --learning-rate times the \
      L2-normalised gradient of the filter's mean activation. Each pattern is standardised (times \
      64, plus 128), clipped, its --crop border pixels cut, and several filters are tiled 8 to a \
      row with 5-pixel gaps.
      """)

  @OptionGroup var model: InspectedModel
  @Option(help: "The convolution layer (a name, or a path into a nested model).") var layer: String
  @Option(help: "Filters: K, a list 0,3,5 or a range 0-7.") var filter: String
  @Option(help: "Where to write the PNG.") var output: String
  @Option(help: "Gradient ascent steps.") var iterations: Int = 30
  @Option(help: "Step size.") var learningRate: Float = 10
  @Option(help: "Border pixels to cut from each pattern (the book: 25 of 200).") var crop: Int?

  func filters() throws -> [Int] {
    var out: [Int] = []
    for part in filter.split(separator: ",") {
      let bounds = part.split(separator: "-").map { Int($0.trimmingCharacters(in: .whitespaces)) }
      guard bounds.allSatisfy({ $0 != nil && $0! >= 0 }), (1...2).contains(bounds.count) else {
        throw ValidationError("--filter takes K, K,L,... or K-L; received \(filter)")
      }
      out += Array(bounds[0]!...bounds.last!!)
    }
    return out
  }

  func run() throws {
    try reportingErrors {
      let m = try model.open()
      let shape = m.inputs[0].shape
      guard shape.count == 3 else {
        throw DLPError.shape("filter patterns need an image input; the model takes \(shape)")
      }
      let (h, w, c) = (shape[0], shape[1], shape[2])
      let border = crop ?? Swift.min(h, w) / 8
      guard 2 * border < Swift.min(h, w) else {
        throw DLPError.config("--crop \(border) leaves nothing of a \(h) x \(w) image")
      }
      let list = try filters()
      let (th, tw) = (h - 2 * border, w - 2 * border)
      let perRow = Swift.min(8, list.count)
      let rows = (list.count + perRow - 1) / perRow
      let margin = 5
      let (gh, gw) = (rows * th + (rows - 1) * margin, perRow * tw + (perRow - 1) * margin)
      let outChannels = c == 1 ? 1 : 3
      var grid = [UInt8](repeating: 0, count: gh * gw * outChannels)
      for (i, f) in list.enumerated() {
        let pattern = try FilterPattern.generate(
          model: m, layer: layer, filter: f, iterations: iterations, learningRate: learningRate, seed: model.seed)
        let pixels = Self.deprocess(pattern.image.scalars)
        let (top, left) = ((i / perRow) * (th + margin), (i % perRow) * (tw + margin))
        for y in 0..<th {
          for x in 0..<tw {
            for k in 0..<outChannels {
              grid[((top + y) * gw + left + x) * outChannels + k] = pixels[((y + border) * w + x + border) * c + k]
            }
          }
        }
        printLine("filter \(f): mean activation \(String(format: "%.4f", pattern.objective))")
      }
      try PNGWriter.write(pixels: grid, height: gh, width: gw, channels: outChannels, to: URL(fileURLWithPath: output))
    }
  }

  /// The book's deprocess_image: zero mean, unit deviation, times 64, plus 128, clipped.
  static func deprocess(_ v: [Float]) -> [UInt8] {
    let n = Float(v.count)
    let mean = v.reduce(0, +) / n
    let std = (v.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / n).squareRoot()
    return v.map { UInt8(Swift.min(Swift.max(($0 - mean) / Swift.max(std, 1e-12) * 64 + 128, 0), 255)) }
  }
}
