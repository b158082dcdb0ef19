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

  @Option(help: "Images in class folders: resize every image to H,W (bilinear, as image_dataset_from_directory).")
  public var imageSize: String?

  @Option(help: "Images in class folders: rgb, grayscale or rgba.")
  public var colorMode: String = "rgb"

  @Option(help: "Images in class folders: labels as int (class index), categorical (one-hot) or binary (2 classes).")
  public var labelMode: String = "int"

  @Option(help: "Images in class folders: decoded bytes to hold in memory (e.g. 2GB); a bigger folder is decoded batch by batch while training runs (in-process).")
  public var memoryBudget: String = "2GB"

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
    _ = try imageOptions(seed: 0)
    _ = try memoryBudgetBytes()
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


  public func load(
    default name: String?, skipTest: Bool = false, seed: UInt64 = 0, preset: Preset? = nil, evaluation: Bool = false
  ) throws -> DatasetSplits {
    guard let name = dataset ?? name else { throw DLPError.data("give a dataset: --dataset NAME|PATH") }
    var options = datasetOptions(preset: preset, skipTest: skipTest)
    options.images = try imageOptions(seed: seed, preset: preset, evaluation: evaluation)
    return try DatasetCatalog.load(name, options: options)
  }

  /// --image-size, --color-mode, --label-mode; the file order is shuffled with `seed`. A preset
  /// gets images divided by 255, as the book prepares them for it (and as the IDX datasets are
  /// loaded); a --model gets [0, 255], as image_dataset_from_directory gives them.
  /// `evaluation`: a plain class folder is all test data (dlp evaluate).
  public func imageOptions(seed: UInt64, preset: Preset? = nil, evaluation: Bool = false) throws -> ImageFolderOptions {
    var size: [Int]?
    if let s = imageSize {
      let parts = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
      guard parts.count == 2, let h = parts[0], let w = parts[1], h > 0, w > 0 else {
        throw ValidationError("--image-size takes H,W (two positive integers); received \(s)")
      }
      size = [h, w]
    }
    var options = ImageFolderOptions(
      imageSize: size, colorMode: try ColorMode(parsing: colorMode), labelMode: try LabelMode(parsing: labelMode), seed: seed)
    if preset != nil { options.divisor = 255 }
    options.wholeFolderIsTest = evaluation
    return options
  }

  /// --memory-budget in bytes (1000-based suffixes KB, MB, GB; KiB, MiB, GiB).
  public func memoryBudgetBytes() throws -> Int {
    let units: [(String, Int)] = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10), ("GB", 1_000_000_000), ("MB", 1_000_000), ("KB", 1000), ("B", 1)]
    for (suffix, scale) in units where memoryBudget.hasSuffix(suffix) {
      if let v = Double(memoryBudget.dropLast(suffix.count)), v >= 0 { return Int(v * Double(scale)) }
    }
    if let v = Int(memoryBudget), v >= 0 { return v }
    throw ValidationError("--memory-budget takes a size such as 512MB or 2GiB; received \(memoryBudget)")
  }
}
