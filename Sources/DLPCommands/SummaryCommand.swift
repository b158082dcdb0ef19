import ArgumentParser
import DLP

/// `dlp summary`: Keras's summary table of a preset or a model JSON.
struct SummaryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "summary", abstract: "Print a model's layers and parameter counts.")

  @OptionGroup var model: ModelOptions

  func run() throws {
    try reportingErrors {
      let (m, _) = try model.makeModel(seed: 0)
      print(m.summary(), terminator: "")
    }
  }
}
