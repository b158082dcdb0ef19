import ArgumentParser
import DLP
import DLPPlot
import Foundation

/// `dlp plot`: the book's training curves from a report, as PNG or SVG.
struct PlotCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plot", abstract: "Draw the training curves of a report (PNG or SVG).",
    discussion: """
      A dlp train report gives two panels, training (dots) and validation (line) loss per epoch, \
      then the same for its metric (accuracy, else MAE). A dlp kfold report gives the mean \
      validation MAE per epoch over the folds, and the same from epoch 11 smoothed by an \
      exponential moving average (factor 0.9), as Deep Learning with Python plots them.
      """)

  @Argument(help: "A report written by --report.") var report: String
  @Option(help: "The image to write: .png or .svg.") var output: String

  func validate() throws {
    guard output.hasSuffix(".png") || output.hasSuffix(".svg") else {
      throw ValidationError("--output must end in .png or .svg. Received: \(output)")
    }
  }

  func run() throws {
    try reportingErrors {
      guard let data = FileManager.default.contents(atPath: report) else { throw DLPError.io("cannot read \(report)") }
      let figure = try ReportCurves.figure(report: JSONValue.parse(data, source: report), source: report)
      let bytes = output.hasSuffix(".png") ? try Render.png(figure) : Array(Render.svg(figure).utf8)
      try FileIO.writeAtomically(bytes, to: URL(fileURLWithPath: output))
    }
  }
}
