import DLPTensor
import Foundation

/// Features and targets of one split, each in the element type of its file (`SampleArray`).
public struct LabeledData: Sendable, Equatable {
  public var x: SampleArray
  public var y: SampleArray

  public init(x: SampleArray, y: SampleArray) {
    self.x = x
    self.y = y
  }

  /// Float32 features and targets (shared, not copied).
  public init(x: Tensor, y: Tensor) {
    self.init(x: SampleArray(x), y: SampleArray(y))
  }

  /// Number of samples (the first axis).
  public var count: Int { x.rows }
}

/// The keras.datasets loaders, ported so that the same file gives the same arrays in the same
/// order as `keras.datasets.NAME.load_data()`.
public enum KerasDatasets {
  /// `int(n * (1 - test_split))`, computed in Double exactly as Python does.
  public static func kerasSplitIndex(_ count: Int, testSplit: Double) -> Int {
    Int(Double(count) * (1 - testSplit))
  }

  /// `keras.datasets.boston_housing.load_data(test_split, seed)` on `boston_housing.npz` (x, y):
  /// rows shuffled by `RandomState(seed)`, the first `int(n * (1 - test_split))` for training.
  /// With the defaults that is 404 training rows whose first target is 15.2.
  public static func bostonHousing(
    _ archive: NPZArchive, testSplit: Double = 0.2, seed: UInt32 = 113
  )
    throws -> (train: LabeledData, test: LabeledData)
  {
    try shuffledSplit(
      x: try archive.array("x").samples(), y: try archive.array("y").samples(),
      testSplit: testSplit, seed: seed, source: archive.source)
  }

  /// Shuffles rows of x and y with `RandomState(seed)` and splits them the Keras way.
  public static func shuffledSplit(
    x: SampleArray, y: SampleArray, testSplit: Double = 0.2, seed: UInt32 = 113, source: String = "dataset"
  ) throws -> (train: LabeledData, test: LabeledData) {
    let n = x.rows
    guard y.rows == n else {
      throw DLPError.data("\(source): x has \(n) rows but y has \(y.rows)")
    }
    var rng = NumpyRandomState(seed: seed)
    let order = rng.shuffledIndices(n)
    let split = kerasSplitIndex(n, testSplit: testSplit)
    guard split >= 0, split <= n else {
      throw DLPError.data("test split \(testSplit) is outside 0...1")
    }
    return (
      LabeledData(x: try x.gathering(rows: order[..<split]), y: try y.gathering(rows: order[..<split])),
      LabeledData(x: try x.gathering(rows: order[split...]), y: try y.gathering(rows: order[split...]))
    )
  }

  /// The first `count` rows of `t`, in memory of their own when they are a small part of it (a
  /// view would keep the whole array alive), a view otherwise.
  public static func prefixRows(_ t: SampleArray, _ count: Int) throws -> SampleArray {
    let n = min(count, t.rows)
    let head = try t.rows(0..<n)
    return n * 2 < t.rows ? head.compacted() : head
  }

  /// `keras.datasets.mnist.load_data()` on Keras's `mnist.npz` (x_train, y_train, x_test, y_test
  /// of uint8). Pixels are divided by `pixelDivisor` (255 gives the book's 0...1 inputs).
  public static func mnist(npz archive: NPZArchive, pixelDivisor: Float = 1) throws
    -> (train: LabeledData, test: LabeledData)
  {
    func split(_ x: String, _ y: String) throws -> LabeledData {
      let data = LabeledData(
        x: try archive.array(x).samples(dividingBy: pixelDivisor),
        y: try archive.array(y).samples())
      try checkImages(data, archive.source)
      return data
    }
    return (try split("x_train", "y_train"), try split("x_test", "y_test"))
  }

  /// The four IDX files of an MNIST-style folder (as LeCun's site, Fashion-MNIST and Debian's
  /// dataset-fashion-mnist ship them), each gzipped or not. Missing test files give a nil test.
  public static func mnist(idxFolder folder: URL, pixelDivisor: Float = 1, maxTrain: Int? = nil, withTest: Bool = true) throws
    -> (train: LabeledData, test: LabeledData?)
  {
    func split(_ prefix: String) throws -> LabeledData? {
      // `--samples N` keeps the first N training images: decompress and convert only those.
      let limit = prefix == "train" ? maxTrain : nil
      let images = IDXFolder.file(in: folder, prefix: prefix, kind: "images", rank: 3)
      let labels = IDXFolder.file(in: folder, prefix: prefix, kind: "labels", rank: 1)
      guard let images, let labels else { return nil }
      // The two files are independent: decompress them on two threads.
      let results = ParallelResults<SampleArray>(count: 2)
      DispatchQueue.concurrentPerform(iterations: 2) { i in
        results[i] = Result {
          try IDXFile.readSamples(i == 0 ? images : labels, dividingBy: i == 0 ? pixelDivisor : 1, maxItems: limit)
        }
      }
      let data = LabeledData(x: try results[0].get(), y: try results[1].get())
      try checkImages(data, images.path)
      return data
    }
    guard let train = try split("train") else {
      throw DLPError.data(
        "\(folder.path): no MNIST training files (\(IDXFolder.expectedNames("train").joined(separator: ", ")))"
      )
    }
    return (train, withTest ? try split("t10k") : nil)
  }

  static func checkImages(_ data: LabeledData, _ source: String) throws {
    guard data.x.rows == data.y.rows, data.y.rank == 1 else {
      throw DLPError.data(
        "\(source): \(data.x.rows) images but labels of shape \(data.y.shape)")
    }
  }
}

/// Finding the IDX files of an MNIST-style folder under their usual names.
enum IDXFolder {
  /// Names seen in the wild: `train-images-idx3-ubyte`, and `train-images.idx3-ubyte` (how some
  /// archives unpack), each optionally with `.gz`.
  static func candidates(_ prefix: String, _ kind: String, _ rank: Int) -> [String] {
    let bases = ["\(prefix)-\(kind)-idx\(rank)-ubyte", "\(prefix)-\(kind).idx\(rank)-ubyte"]
    return bases.flatMap { [$0 + ".gz", $0] }
  }

  static func file(in folder: URL, prefix: String, kind: String, rank: Int) -> URL? {
    candidates(prefix, kind, rank).lazy.map { folder.appendingPathComponent($0) }
      .first { FileManager.default.fileExists(atPath: $0.path) }
  }

  static func expectedNames(_ prefix: String) -> [String] {
    ["\(prefix)-images-idx3-ubyte[.gz]", "\(prefix)-labels-idx1-ubyte[.gz]"]
  }

  /// Whether `folder` holds a training (and, if `requireTest`, a test) image/label pair.
  static func isComplete(_ folder: URL, requireTest: Bool) -> Bool {
    let prefixes = requireTest ? ["train", "t10k"] : ["train"]
    return prefixes.allSatisfy { p in
      file(in: folder, prefix: p, kind: "images", rank: 3) != nil
        && file(in: folder, prefix: p, kind: "labels", rank: 1) != nil
    }
  }
}

/// Results written by concurrent tasks, one slot each, behind a lock.
final class ParallelResults<T>: @unchecked Sendable {
  private var slots: [Result<T, Error>]
  private let lock = NSLock()

  init(count: Int) {
    slots = Array(repeating: .failure(DLPError.data("not computed")), count: count)
  }

  subscript(i: Int) -> Result<T, Error> {
    get { lock.withLock { slots[i] } }
    set { lock.withLock { slots[i] = newValue } }
  }
}
