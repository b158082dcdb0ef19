import ArgumentParser
import DLP
import Foundation

/// `--dataset`, `--samples` and how a dataset is fitted to a model's input and loss.
public struct DataOptions: ParsableArguments {
  @Option(
    help: "fashion_mnist, mnist, boston_housing, imdb, reuters, or a path (IDX folder, .npz, .csv)."
  )
  public var dataset: String?

  @Option(help: "Use only the first N training samples.")
  public var samples: Int?

  @Option(help: "Vocabulary size for imdb/reuters (num_words).")
  public var numWords: Int = 10000

  @Option(help: "Target column of a CSV dataset (default: the last).")
  public var targetColumn: String?

  @Option(
    help:
      "Sequences as int32 ids padded to L steps (imdb, reuters, npz sequences; pad_sequences' defaults: padded and truncated at the start, with 0) instead of multi-hot; with --timeseries-target, the steps of a window. Default: the preset's."
  )
  public var sequenceLength: Int?

  @Option(
    help:
      "Read a CSV as timeseries windows forecasting this column (keras.utils.timeseries_dataset_from_array)."
  )
  public var timeseriesTarget: String?

  @Option(help: "Timeseries: rows between two steps of a window (default 1; timeseries-gru: 6).")
  public var samplingRate: Int?

  @Option(help: "Timeseries: rows between the starts of two windows (default 1).")
  public var sequenceStride: Int?

  @Option(
    help:
      "Timeseries: rows from a window's first row to its target (default: the book's sampling-rate * (sequence-length + 23), 24 steps after the window)."
  )
  public var delay: Int?

  @Option(
    help: "Timeseries: the first fraction of the rows gives the training windows (default 0.5).")
  public var trainFraction: Double?

  @Option(
    help:
      "Timeseries: the next fraction gives the validation windows (default 0.25); the rest, the test windows."
  )
  public var validationFraction: Double?

  public init() {}

  public func validate() throws {
    if let s = samples, s <= 0 { throw ValidationError("--samples must be positive") }
    for (flag, v) in [
      ("--sequence-length", sequenceLength), ("--sampling-rate", samplingRate),
      ("--sequence-stride", sequenceStride),
    ] {
      if let v, v <= 0 { throw ValidationError("\(flag) must be positive") }
    }
    if let d = delay, d < 0 { throw ValidationError("--delay must not be negative") }
  }

  /// How the dataset is read, the flags first, then the preset's defaults (a sequence preset's
  /// length, the timeseries preset's windows).
  public func datasetOptions(preset: Preset?, skipTest: Bool = false) -> DatasetOptions {
    var timeseries: TimeseriesOptions?
    if let target = timeseriesTarget ?? preset?.timeseries?.target {
      var t = preset?.timeseries ?? TimeseriesOptions(target: target)
      t.target = target
      t.sequenceLength = sequenceLength ?? preset?.timeseries?.sequenceLength ?? 120
      t.samplingRate = samplingRate ?? t.samplingRate
      t.sequenceStride = sequenceStride ?? t.sequenceStride
      t.delay = delay ?? t.delay
      t.trainFraction = trainFraction ?? t.trainFraction
      t.validationFraction = validationFraction ?? t.validationFraction
      timeseries = t
    }
    return DatasetOptions(
      numWords: numWords, samples: samples, targetColumn: targetColumn, skipTest: skipTest,
      sequenceLength: timeseries == nil ? sequenceLength ?? preset?.sequenceLength : nil,
      timeseries: timeseries)
  }

  public func load(default name: String?, skipTest: Bool = false, preset: Preset? = nil) throws
    -> DatasetSplits
  {
    guard let name = dataset ?? name else {
      throw DLPError.data("give a dataset: --dataset NAME|PATH")
    }
    return try DatasetCatalog.load(
      name, options: datasetOptions(preset: preset, skipTest: skipTest))
  }
}
