import ArgumentParser
import DLP
import Foundation

/// `dlp`: the command-line front end.
public struct DLPCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "dlp",
    abstract: "Deep Learning with Python's models, trained in Swift on OpenBLAS, in one process or across workers.",
    subcommands: [
      TrainCommand.self, EvaluateCommand.self, PredictCommand.self, SummaryCommand.self, KFoldCommand.self, BenchCommand.self,
      PlotCommand.self, KeygenCommand.self,
    ] + [ActivationsCommand.self, GradCAMCommand.self, FiltersCommand.self, MakeImageFolderCommand.self])

  public init() {}
}

/// Runs `body`, turning library errors into a one-line message on stderr and exit status 1.
func reportingErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let e as DLPError {
    FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
    throw ExitCode(1)
  } catch let e as TensorError {
    FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
    throw ExitCode(1)
  }
}

/// BLAS threads and flush-to-zero for this process.
func configureEngine(threads: Int?) {
  let n = threads ?? ProcessInfo.processInfo.activeProcessorCount
  BLAS.enableFlushToZero(threads: n)
}

func printLine(_ s: String) {
  FileHandle.standardOutput.write(Data((s + "\n").utf8))
}
