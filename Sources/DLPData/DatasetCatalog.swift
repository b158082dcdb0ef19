import DLPTensor
import Foundation

/// Options for `DatasetCatalog.load`.
public struct DatasetOptions: Sendable, Equatable {
  /// Vocabulary size for imdb/reuters (Keras's `num_words`, and the multi-hot width).
  public var numWords: Int = 10000
  /// Keep only the first N training samples (`--samples`), after Keras's shuffling and split.
  public var samples: Int?
  /// The target column of a CSV file (default: the last column).
  public var targetColumn: String?
  /// Leave the test split out (a K-fold sweep without `--final` never reads it): an IDX
  /// folder's test files are then not even decompressed.
  public var skipTest: Bool
  /// How a folder of images in class folders is read (`--image-size`, `--color-mode`,
  /// `--label-mode`); nil: such a folder is not taken as an image dataset.
  public var images: ImageFolderOptions? = nil
  /// imdb, reuters and npz sequences as int32 ids padded to this many steps
  /// (`keras.utils.pad_sequences`' defaults: padded and truncated at the start, with 0) instead
  /// of multi-hot vectors.
  public var sequenceLength: Int? = nil
  /// A CSV as timeseries windows (`TimeseriesSplits`) instead of one sample per row.
  public var timeseries: TimeseriesOptions? = nil

  public init(
    numWords: Int = 10000, samples: Int? = nil, targetColumn: String? = nil, skipTest: Bool = false,
    sequenceLength: Int? = nil, timeseries: TimeseriesOptions? = nil
  ) {
    self.numWords = numWords
    self.samples = samples
    self.targetColumn = targetColumn
    self.skipTest = skipTest
    self.sequenceLength = sequenceLength
    self.timeseries = timeseries
  }
}

/// A dataset ready for training: the book's preparation applied, labels sparse.
public struct DatasetSplits: Sendable, Equatable {
  public var name: String
  public var train: LabeledData
  public var test: LabeledData?
  /// The number of classes for classification datasets; nil for regression.
  public var numClasses: Int?
  /// XXH64 over the shapes, element types and stored bytes of train x, y and test x, y (see
  /// `ContentHasher`): read in place, no copy.
  public var contentHash: UInt64
  /// Timeseries: the validation split that holds out exactly the validation windows (the last
  /// rows of `train`), and the naive forecast's mean absolute errors (`val_mae`, `test_mae`).
  public var validationSplit: Double? = nil
  public var baselines: [String: Double] = [:]

  public init(name: String, train: LabeledData, test: LabeledData?, numClasses: Int?) {
    self.name = name
    self.train = train
    self.test = test
    self.numClasses = numClasses
    var hasher = ContentHasher()
    hasher.add(train.x)
    hasher.add(train.y)
    if let test {
      hasher.add(test.x)
      hasher.add(test.y)
    } else {
      hasher.addAbsent()
    }
    self.contentHash = hasher.value
  }
}

/// Loads datasets by name or path, prepared as the book prepares them:
/// - mnist, fashion_mnist: x `[N, 28, 28]` divided by 255, y class indices, 10 classes;
/// - boston_housing: x `[404, 13]` raw (normalise separately, on training data), y `[404]`;
/// - imdb, reuters: `keras.datasets` processing with `num_words`, then x multi-hot `[N, numWords]`;
///   y 0/1 (imdb, 2 classes) or the topic (reuters, 46 classes);
/// - a CSV: every column but the target is a feature, no test split;
/// - any other `.npz`: `x_train/y_train[/x_test/y_test]` as stored (uint8 images divided by 255,
///   object arrays of sequences as imdb), or `x/y` split like boston (sequences like reuters).
public enum DatasetCatalog {
  public static func load(
    _ nameOrPath: String, options: DatasetOptions = DatasetOptions(),
    locator: DatasetLocator = DatasetLocator()
  ) throws -> DatasetSplits {
    if let images = try ImageDatasets.load(nameOrPath, options: options) { return images }
    let resolved = try locator.resolve(nameOrPath)
    let name = resolved.name?.rawValue ?? nameOrPath
    var splits: (train: LabeledData, test: LabeledData?, classes: Int?)
    switch (resolved.source, resolved.name) {
    case (.csv(let url), _) where options.timeseries != nil:
      return try timeseries(url, name: name, options: options)
    case (.csv(let url), _):
      let table = try CSVTable(contentsOf: url)
      splits = (try table.split(target: options.targetColumn), nil, nil)
    case (.idxFolder(let url), _):
      let data = try KerasDatasets.mnist(
        idxFolder: url, pixelDivisor: 255, maxTrain: options.samples.map { max($0, 1) }, withTest: !options.skipTest)
      splits = (data.train, data.test, try classCount(data.train, data.test, known: 10, resolved))
    case (.npz(let url), let kind):
      let archive = try NPZArchive(contentsOf: url)
      splits = try loadNPZ(archive, kind: kind, options: options)
    }
    if options.skipTest { splits.test = nil }
    if let samples = options.samples {
      guard samples > 0 else { throw DLPError.data("--samples must be positive, got \(samples)") }
      splits.train = LabeledData(
        x: try KerasDatasets.prefixRows(splits.train.x, samples),
        y: try KerasDatasets.prefixRows(splits.train.y, samples))
    }
    return DatasetSplits(
      name: name, train: splits.train, test: splits.test, numClasses: splits.classes)
  }

  static func loadNPZ(_ archive: NPZArchive, kind: DatasetName?, options: DatasetOptions) throws
    -> (train: LabeledData, test: LabeledData?, classes: Int?)
  {
    let sequenceOptions = KerasSequenceOptions(numWords: options.numWords)
    let hasTrainTest = archive.contains("x_train") && archive.contains("y_train")
    switch kind {
    case .mnist, .fashionMNIST:
      let data = try KerasDatasets.mnist(npz: archive, pixelDivisor: 255)
      return (data.train, data.test, 10)
    case .bostonHousing:
      let data = try KerasDatasets.bostonHousing(archive)
      return (data.train, data.test, nil)
    case .imdb:
      return try encoded(try KerasDatasets.imdb(archive, options: sequenceOptions), options, 2)
    case .reuters:
      return try encoded(
        try KerasDatasets.reuters(archive, options: sequenceOptions), options, 46)
    case nil where hasTrainTest:
      if try archive.array("x_train").dtype == .object {
        return try encoded(
          try KerasDatasets.imdb(archive, options: sequenceOptions), options, nil)
      }
      func part(_ x: String, _ y: String) throws -> LabeledData {
        let xs = try archive.array(x)
        return LabeledData(
          x: try xs.samples(dividingBy: xs.dtype == .uint8 ? 255 : 1),
          y: try archive.array(y).samples())
      }
      let train = try part("x_train", "y_train")
      let test = archive.contains("x_test") ? try part("x_test", "y_test") : nil
      return (train, test, try labelClasses(archive, ["y_train", "y_test"]))
    case nil:
      guard archive.contains("x"), archive.contains("y") else {
        throw DLPError.data(
          "\(archive.source): expected arrays x_train, y_train[, x_test, y_test] or x, y; found "
            + archive.arrayNames.joined(separator: ", "))
      }
      if try archive.array("x").dtype == .object {
        return try encoded(
          try KerasDatasets.reuters(archive, options: sequenceOptions), options, nil)
      }
      let data = try KerasDatasets.shuffledSplit(
        x: try archive.array("x").samples(), y: try archive.array("y").samples(),
        source: archive.source)
      return (data.train, data.test, try labelClasses(archive, ["y"]))
    }
  }

  /// Sequences as padded int32 ids (with `sequenceLength`) or multi-hot vectors.
  static func encoded(_ s: SequenceSplits, _ options: DatasetOptions, _ classes: Int?) throws
    -> (train: LabeledData, test: LabeledData?, classes: Int?)
  {
    guard let length = options.sequenceLength else { return try vectorized(s, options, classes) }
    guard length > 0 else { throw DLPError.config("--sequence-length must be positive, got \(length)") }
    let (_, _, count) = try vectorizedLabels(s, classes)
    let samples = options.samples.map { min($0, s.trainX.count) } ?? s.trainX.count
    let train = LabeledData(
      x: try paddedSequences(Array(s.trainX[..<samples]), maxlen: length),
      y: SampleArray(Tensor(s.trainY[..<samples].map(Float.init))))
    let test = LabeledData(x: try paddedSequences(s.testX, maxlen: length), y: SampleArray(Tensor(s.testY.map(Float.init))))
    return (train, test, count)
  }

  /// The class count, after checking every label against it.
  static func vectorizedLabels(_ s: SequenceSplits, _ classes: Int?) throws -> ([Int], [Int], Int) {
    let count = classes ?? ((s.trainY + s.testY).max() ?? 0) + 1
    for (i, label) in (s.trainY + s.testY).enumerated() where label < 0 || label >= count {
      throw DLPError.data("label \(label) at index \(i) is outside 0..<\(count)")
    }
    return (s.trainY, s.testY, count)
  }

  /// A CSV as the book's timeseries windows: train and validation windows in `train` (the
  /// validation ones last, `validationSplit` holding them out exactly), test windows in `test`.
  static func timeseries(_ url: URL, name: String, options: DatasetOptions) throws -> DatasetSplits {
    let table = try CSVTable(contentsOf: url, skippingTextColumns: true, keepingDoubles: true)
    let t = try TimeseriesSplits(table: table, options: options.timeseries!, trainLimit: options.samples)
    var splits = DatasetSplits(
      name: name, train: t.trainAndValidation, test: options.skipTest ? nil : t.test, numClasses: nil)
    // Int(n * (1 - split)) lands on the first validation window.
    splits.validationSplit = (Double(t.validationCount) - 0.5) / Double(t.trainCount + t.validationCount)
    splits.baselines = ["val_mae": t.baselineValidationMAE, "test_mae": t.baselineTestMAE]
    return splits
  }

  /// Multi-hot encodes sequences and checks labels against the class count (the largest label
  /// plus one when the dataset does not fix it).
  static func vectorized(_ s: SequenceSplits, _ options: DatasetOptions, _ classes: Int?) throws
    -> (train: LabeledData, test: LabeledData?, classes: Int?)
  {
    let count = classes ?? ((s.trainY + s.testY).max() ?? 0) + 1
    for (i, label) in (s.trainY + s.testY).enumerated() where label < 0 || label >= count {
      throw DLPError.data("label \(label) at index \(i) is outside 0..<\(count)")
    }
    let samples = options.samples.map { min($0, s.trainX.count) } ?? s.trainX.count
    // Only the kept training samples are vectorised: the multi-hot matrix is large (a byte an
    // element: 250 MB for imdb's 25000 x 10000, where Float32 would take 1 GB).
    let train = LabeledData(
      x: try multiHot(Array(s.trainX[..<samples]), dimension: options.numWords),
      y: SampleArray(Tensor(s.trainY[..<samples].map(Float.init))))
    let test = LabeledData(
      x: try multiHot(s.testX, dimension: options.numWords),
      y: SampleArray(Tensor(s.testY.map(Float.init))))
    return (train, test, count)
  }

  /// The class count of integer labels (nil when they are not integers: a regression target).
  static func labelClasses(_ archive: NPZArchive, _ names: [String]) throws -> Int? {
    var largest = -1
    for name in names where archive.contains(name) {
      let array = try archive.array(name)
      guard array.dtype.isInteger else { return nil }
      largest = max(largest, try array.integers().max() ?? -1)
    }
    return largest >= 0 ? largest + 1 : nil
  }

  static func classCount(
    _ train: LabeledData, _ test: LabeledData?, known: Int, _ r: ResolvedDataset
  )
    throws -> Int
  {
    let labels = train.y.floats() + (test?.y.floats() ?? [])
    let largest = Int(labels.max() ?? 0)
    return r.name == nil ? largest + 1 : max(known, largest + 1)
  }
}
