import DLPTensor

/// Feature-wise standardisation, as the book does for Boston housing:
/// `mean = x_train.mean(axis=0); x -= mean; std = x_train.std(axis=0); x /= std`.
///
/// Statistics come from the training data only (and, in k-fold, from the training partitions
/// only), then the same transform is applied to validation and test data.
public struct Normalizer: Sendable, Equatable, Codable {
  /// Per-feature mean (features are everything after the first axis, flattened).
  public let mean: [Float]
  /// Per-feature population standard deviation (numpy's default `ddof=0`), with zeros replaced
  /// by 1: a constant feature then maps to 0 instead of NaN.
  public let std: [Float]

  public init(mean: [Float], std: [Float]) throws {
    guard mean.count == std.count else {
      throw DLPError.shape("normalizer has \(mean.count) means but \(std.count) deviations")
    }
    self.mean = mean
    self.std = std.map { $0 == 0 || !$0.isFinite ? 1 : $0 }
  }

  /// Fits on `x` of shape `[samples, features...]`. Sums run in Double, as numpy's reductions
  /// of float64 data do, so the statistics do not drift with many samples.
  public init(fitting x: Tensor) throws {
    try self.init(fitting: SampleArray(x))
  }

  /// Fits on samples of any element type (their values, as a model input would receive them),
  /// reading one row at a time: no Float copy of the data.
  public init(fitting x: SampleArray) throws {
    let n = x.rows
    guard x.rank >= 2, n > 0 else {
      throw DLPError.shape("cannot fit a normalizer on data of shape \(x.shape)")
    }
    let width = x.rowWidth
    var sum = [Double](repeating: 0, count: width)
    var squares = [Double](repeating: 0, count: width)
    x.forEachRow { _, row in
      for c in 0..<width { sum[c] += Double(row[c]) }
    }
    for c in 0..<width { sum[c] /= Double(n) }
    // Two passes (mean, then squared deviations): numerically stable, like numpy's std.
    x.forEachRow { _, row in
      for c in 0..<width {
        let d = Double(row[c]) - sum[c]
        squares[c] += d * d
      }
    }
    try self.init(
      mean: sum.map { Float($0) }, std: squares.map { Float(($0 / Double(n)).squareRoot()) })
  }

  /// `(x - mean) / std` for each feature of each sample.
  public func apply(_ x: Tensor) throws -> Tensor {
    try apply(SampleArray(x)).tensor()
  }

  /// `(x - mean) / std` for each feature of each sample, as Float32 samples (the input is
  /// read a row at a time, whatever its element type).
  public func apply(_ x: SampleArray) throws -> SampleArray {
    let width = mean.count
    guard x.rank >= 2, x.rowWidth == width else {
      throw DLPError.shape(
        "normalizer fitted on \(width) features cannot transform data of shape \(x.shape)")
    }
    var out = [Float](repeating: 0, count: x.elementCount)
    out.withUnsafeMutableBufferPointer { o in
      x.forEachRow { r, row in
        for c in 0..<width { o[r * width + c] = (row[c] - mean[c]) / std[c] }
      }
    }
    return try SampleArray(shape: x.shape, float32: out)
  }
}

/// One-hot encodes integer class labels (`keras.utils.to_categorical`): `[n]` -> `[n, classes]`.
/// A label that is not a whole number in `0..<numClasses` is an error naming it and its index.
public func toCategorical(labels: Tensor, numClasses: Int) throws -> Tensor {
  guard numClasses > 0 else {
    throw DLPError.data("numClasses must be positive, got \(numClasses)")
  }
  let n = labels.count
  var out = [Float](repeating: 0, count: n * numClasses)
  for (i, label) in labels.scalars.enumerated() {
    guard label.rounded() == label, label >= 0, label < Float(numClasses) else {
      throw DLPError.data(
        "label \(label) at index \(i) is not a class index in 0..<\(numClasses)")
    }
    out[i * numClasses + Int(label)] = 1
  }
  return try makeTensor([n, numClasses], out)
}

/// The book's `vectorize_sequences`: a multi-hot `[n, dimension]` matrix with a 1 at every word
/// index a sequence contains. An index outside `0..<dimension` is an error.
public func vectorizeSequences(_ sequences: [[Int]], dimension: Int) throws -> Tensor {
  try multiHot(sequences, dimension: dimension).tensor()
}

/// `vectorizeSequences` held as bytes (a quarter of the memory), as the dataset loaders keep it;
/// a batch becomes the same 0/1 Float32 values when it is gathered.
public func multiHot(_ sequences: [[Int]], dimension: Int) throws -> SampleArray {
  guard dimension > 0 else { throw DLPError.data("dimension must be positive, got \(dimension)") }
  var out = [UInt8](repeating: 0, count: sequences.count * dimension)
  try out.withUnsafeMutableBufferPointer { o in
    for (i, sequence) in sequences.enumerated() {
      let row = i * dimension
      for w in sequence {
        guard w >= 0, w < dimension else {
          throw DLPError.data(
            "word index \(w) in sequence \(i) is outside 0..<\(dimension) (raise numWords?)")
        }
        o[row + w] = 1
      }
    }
  }
  return try SampleArray(shape: [sequences.count, dimension], uint8: out)
}

/// Where `padSequences` pads or truncates.
public enum PadPosition: String, Sendable {
  case pre, post
}

/// `keras.utils.pad_sequences`: every sequence made `maxlen` long (default: the longest), padded
/// with `value` and truncated at the `pre` (start) or `post` (end), Keras's defaults being `pre`
/// for both. Returns a `[n, maxlen]` tensor.
/// `keras.utils.pad_sequences` (see `padSequences`) into int32 ids: what an Embedding takes,
/// without a float round trip.
public func paddedSequences(
  _ sequences: [[Int]], maxlen: Int? = nil, padding: PadPosition = .pre, truncating: PadPosition = .pre,
  value: Int32 = 0
) throws -> SampleArray {
  let length = maxlen ?? sequences.map(\.count).max() ?? 0
  guard length >= 0 else { throw DLPError.data("maxlen must not be negative, got \(length)") }
  var out = [Int32](repeating: value, count: sequences.count * length)
  for (i, sequence) in sequences.enumerated() where !sequence.isEmpty && length > 0 {
    let kept =
      sequence.count <= length
      ? sequence[...]
      : (truncating == .pre ? sequence.suffix(length) : sequence.prefix(length))
    let start = i * length + (padding == .post ? 0 : length - kept.count)
    for (k, w) in kept.enumerated() {
      guard let id = Int32(exactly: w) else { throw DLPError.data("word id \(w) in sequence \(i) does not fit in int32") }
      out[start + k] = id
    }
  }
  return try SampleArray(shape: [sequences.count, length], int32: out)
}

public func padSequences(
  _ sequences: [[Int]], maxlen: Int? = nil, padding: PadPosition = .pre,
  truncating: PadPosition = .pre, value: Float = 0
) throws -> Tensor {
  let length = maxlen ?? sequences.map(\.count).max() ?? 0
  guard length >= 0 else { throw DLPError.data("maxlen must not be negative, got \(length)") }
  var out = [Float](repeating: value, count: sequences.count * length)
  for (i, sequence) in sequences.enumerated() where !sequence.isEmpty && length > 0 {
    let kept =
      sequence.count <= length
      ? sequence[...]
      : (truncating == .pre ? sequence.suffix(length) : sequence.prefix(length))
    let start = i * length + (padding == .post ? 0 : length - kept.count)
    for (k, w) in kept.enumerated() { out[start + k] = Float(w) }
  }
  return try makeTensor([sequences.count, length], out)
}
