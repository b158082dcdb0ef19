import DLPTensor

/// The options of `keras.datasets.imdb.load_data` and `keras.datasets.reuters.load_data`, with
/// Keras's defaults. `nil` (or 0) for `numWords` and `maxlen` means "no limit", as in Keras.
public struct KerasSequenceOptions: Sendable, Equatable {
  public var numWords: Int?
  public var skipTop: Int
  public var maxlen: Int?
  public var seed: UInt32
  public var startChar: Int?
  public var oovChar: Int?
  public var indexFrom: Int
  /// Fraction held out for testing (reuters only; imdb ships its own test set).
  public var testSplit: Double

  public init(
    numWords: Int? = nil, skipTop: Int = 0, maxlen: Int? = nil, seed: UInt32 = 113,
    startChar: Int? = 1, oovChar: Int? = 2, indexFrom: Int = 3, testSplit: Double = 0.2
  ) {
    self.numWords = numWords
    self.skipTop = skipTop
    self.maxlen = maxlen
    self.seed = seed
    self.startChar = startChar
    self.oovChar = oovChar
    self.indexFrom = indexFrom
    self.testSplit = testSplit
  }
}

/// Sequences and integer labels, split as keras.datasets returns them.
public struct SequenceSplits: Sendable, Equatable {
  public var trainX: [[Int]]
  public var trainY: [Int]
  public var testX: [[Int]]
  public var testY: [Int]
}

extension KerasDatasets {
  /// `keras.datasets.imdb.load_data(...)` on an `imdb.npz` archive (x_train, y_train, x_test,
  /// y_test): train and test are each shuffled by the same `RandomState(seed)` (train first),
  /// then marked and offset, filtered by `maxlen`, and words outside `skipTop..<numWords` become
  /// `oovChar` (or are dropped when `oovChar` is nil), with `numWords` defaulting to the largest
  /// index over both splits.
  public static func imdb(_ archive: NPZArchive, options: KerasSequenceOptions = .init()) throws
    -> SequenceSplits
  {
    var trainX = try archive.array("x_train").sequenceList()
    var trainY = try archive.array("y_train").integers()
    var testX = try archive.array("x_test").sequenceList()
    var testY = try archive.array("y_test").integers()
    try checkCounts(trainX, trainY, "x_train", "y_train", archive.source)
    try checkCounts(testX, testY, "x_test", "y_test", archive.source)

    var rng = NumpyRandomState(seed: options.seed)
    let trainOrder = rng.shuffledIndices(trainX.count)
    trainX = trainOrder.map { trainX[$0] }
    trainY = trainOrder.map { trainY[$0] }
    let testOrder = rng.shuffledIndices(testX.count)
    testX = testOrder.map { testX[$0] }
    testY = testOrder.map { testY[$0] }

    trainX = mark(trainX, options)
    testX = mark(testX, options)
    if let maxlen = options.maxlen, maxlen != 0 {
      (trainX, trainY) = removeLongSequences(maxlen, trainX, trainY)
      (testX, testY) = removeLongSequences(maxlen, testX, testY)
      guard !trainX.isEmpty, !testX.isEmpty else {
        throw DLPError.data(
          "After filtering for sequences shorter than maxlen=\(maxlen), no sequence was kept. "
            + "Increase maxlen.")
      }
    }
    let limited = limitVocabulary(trainX + testX, options)
    return SequenceSplits(
      trainX: Array(limited[..<trainX.count]), trainY: trainY,
      testX: Array(limited[trainX.count...]), testY: testY)
  }

  /// `keras.datasets.reuters.load_data(...)` on a `reuters.npz` archive (x, y): one shuffle by
  /// `RandomState(seed)`, the same marking, filtering and vocabulary limit as imdb, then the first
  /// `int(n * (1 - testSplit))` sequences for training.
  public static func reuters(_ archive: NPZArchive, options: KerasSequenceOptions = .init())
    throws -> SequenceSplits
  {
    var xs = try archive.array("x").sequenceList()
    var labels = try archive.array("y").integers()
    try checkCounts(xs, labels, "x", "y", archive.source)
    var rng = NumpyRandomState(seed: options.seed)
    let order = rng.shuffledIndices(xs.count)
    xs = order.map { xs[$0] }
    labels = order.map { labels[$0] }
    xs = mark(xs, options)
    if let maxlen = options.maxlen, maxlen != 0 {
      (xs, labels) = removeLongSequences(maxlen, xs, labels)
    }
    xs = limitVocabulary(xs, options)
    let split = kerasSplitIndex(xs.count, testSplit: options.testSplit)
    return SequenceSplits(
      trainX: Array(xs[..<split]), trainY: Array(labels[..<split]),
      testX: Array(xs[split...]), testY: Array(labels[split...]))
  }

  static func checkCounts(
    _ x: [[Int]], _ y: [Int], _ xName: String, _ yName: String, _ source: String
  )
    throws
  {
    guard x.count == y.count else {
      throw DLPError.data(
        "\(source): \(xName) has \(x.count) sequences but \(yName) \(y.count) labels")
    }
  }

  /// `[start_char] + [w + index_from for w in x]` (or just the offset when there is no start).
  static func mark(_ xs: [[Int]], _ options: KerasSequenceOptions) -> [[Int]] {
    let offset = options.indexFrom
    if let start = options.startChar {
      return xs.map { x in
        var out = [Int](repeating: start, count: x.count + 1)
        for (i, w) in x.enumerated() { out[i + 1] = w + offset }
        return out
      }
    }
    return offset == 0 ? xs : xs.map { $0.map { $0 + offset } }
  }

  /// Keras's `remove_long_seq`: keeps sequences strictly shorter than `maxlen`.
  static func removeLongSequences(_ maxlen: Int, _ xs: [[Int]], _ labels: [Int]) -> ([[Int]], [Int])
  {
    let keep = xs.indices.filter { xs[$0].count < maxlen }
    return (keep.map { xs[$0] }, keep.map { labels[$0] })
  }

  /// Words outside `skip_top <= w < num_words` become `oov_char`, or are dropped without one.
  static func limitVocabulary(_ xs: [[Int]], _ options: KerasSequenceOptions) -> [[Int]] {
    var numWords = options.numWords ?? 0
    if numWords == 0 { numWords = xs.lazy.compactMap { $0.max() }.max() ?? 0 }
    let skipTop = options.skipTop
    if let oov = options.oovChar {
      return xs.map { $0.map { w in skipTop <= w && w < numWords ? w : oov } }
    }
    return xs.map { $0.filter { w in skipTop <= w && w < numWords } }
  }
}
