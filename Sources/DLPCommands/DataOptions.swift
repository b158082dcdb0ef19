import ArgumentParser
import DLP
import Foundation

/// `--dataset`, `--samples` and how a dataset is fitted to a model's input and loss.
public struct DataOptions: ParsableArguments {
  @Option(help: "fashion_mnist, mnist, boston_housing, imdb, reuters, or a path (IDX folder, .npz, .csv).")
  public var dataset: String?

  @Option(help: "Use only the first N training samples.")
  public var samples: Int?

  @Option(help: "Vocabulary size for imdb/reuters (num_words).")
  public var numWords: Int = 10000

  @Option(help: "Target column of a CSV dataset (default: the last).")
  public var targetColumn: String?

  public init() {}

  public func validate() throws {
    if let s = samples, s <= 0 { throw ValidationError("--samples must be positive") }
  }

  public func load(default name: String?, skipTest: Bool = false) throws -> DatasetSplits {
    guard let name = dataset ?? name else { throw DLPError.data("give a dataset: --dataset NAME|PATH") }
    return try DatasetCatalog.load(
      name, options: DatasetOptions(numWords: numWords, samples: samples, targetColumn: targetColumn, skipTest: skipTest))
  }
}

