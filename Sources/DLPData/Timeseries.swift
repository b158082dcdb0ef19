import DLPTensor

/// The windows `keras.utils.timeseries_dataset_from_array(data, targets, sequence_length,
/// sequence_stride, sampling_rate, start_index=start, end_index=end)` yields, in order (no
/// shuffling, no batching), materialised: window k starts at row s = start + k * stride of
/// `data` (rows of `columns` values) and holds rows s, s + rate, ..., s + (length - 1) * rate;
/// its target is `targets[s]`. Windows start while s + (length - 1) * rate < end, and there are
/// at most `targets.count - start` of them.
///
/// Returns x (windows, length, columns) and y (windows); errors are Keras's.
public func timeseriesDatasetFromArray(
  _ data: [Float], columns: Int, targets: [Float]?, sequenceLength: Int, sequenceStride: Int = 1,
  samplingRate: Int = 1, startIndex: Int? = nil, endIndex: Int? = nil
) throws -> (x: SampleArray, y: SampleArray?) {
  guard columns > 0, data.count % columns == 0 else {
    throw DLPError.data("timeseries data of \(data.count) values is not rows of \(columns) columns")
  }
  let rows = data.count / columns
  if let t = targets, t.count != rows {
    throw DLPError.data(
      "Expected data and targets to have the same number of time steps (axis=0). Received: data.shape=(\(rows), \(columns)), targets.shape=(\(t.count),)"
    )
  }
  guard sequenceLength > 0 else {
    throw DLPError.config(
      "`sequence_length` must be higher than 0. Received: sequence_length=\(sequenceLength)")
  }
  if let s = startIndex, s < 0 || s >= rows {
    throw DLPError.config(
      "`start_index` must be 0 or greater and lower than the data length \(rows). Received: start_index=\(s)"
    )
  }
  if let e = endIndex {
    if let s = startIndex, s >= e {
      throw DLPError.config(
        "`end_index` must be higher than `start_index`. Received: start_index=\(s), and end_index=\(e)"
      )
    }
    if e > rows {
      throw DLPError.config(
        "`end_index` must be lower than the length of the data (\(rows)). Received: end_index=\(e)")
    }
    if e <= 0 {
      throw DLPError.config("`end_index` must be higher than 0. Received: end_index=\(e)")
    }
  }
  guard samplingRate > 0, samplingRate < rows else {
    throw DLPError.config(
      "`sampling_rate` must be higher than 0 and lower than the length of the data (\(rows)). Received: sampling_rate=\(samplingRate)"
    )
  }
  guard sequenceStride > 0, sequenceStride < rows else {
    throw DLPError.config(
      "`sequence_stride` must be higher than 0 and lower than the length of the data (\(rows)). Received: sequence_stride=\(sequenceStride)"
    )
  }
  let start = startIndex ?? 0
  let end = endIndex ?? rows
  var count = end - start - (sequenceLength - 1) * samplingRate
  if let t = targets { count = Swift.min(count, t.count - start) }
  let starts = count > 0 ? stride(from: 0, to: count, by: sequenceStride).map { start + $0 } : []
  return try timeseriesWindows(
    data, columns: columns, targets: targets, starts: starts, sequenceLength: sequenceLength,
    samplingRate: samplingRate)
}

/// The windows starting at rows `starts` (rows s, s + rate, ...) and their targets `targets[s]`.
func timeseriesWindows(
  _ data: [Float], columns: Int, targets: [Float]?, starts: [Int], sequenceLength: Int,
  samplingRate: Int
) throws -> (x: SampleArray, y: SampleArray?) {
  let width = sequenceLength * columns
  var x = [Float](repeating: 0, count: starts.count * width)
  x.withUnsafeMutableBufferPointer { out in
    data.withUnsafeBufferPointer { src in
      for (k, s) in starts.enumerated() {
        for step in 0..<sequenceLength {
          let row = s + step * samplingRate
          (out.baseAddress! + k * width + step * columns).update(
            from: src.baseAddress! + row * columns, count: columns)
        }
      }
    }
  }
  let windows = try SampleArray(shape: [starts.count, sequenceLength, columns], float32: x)
  guard let t = targets else { return (windows, nil) }
  return (windows, try SampleArray(shape: [starts.count], float32: starts.map { t[$0] }))
}

/// The book's temperature-forecasting data (DLwP 2nd ed. 10.2) from a CSV: every numeric
/// column is a feature (a text column, Jena's "Date Time", is left out), normalised with the
/// mean and standard deviation of the training rows; the target is the raw `target` column
/// `delay` rows after a window's first row; train, validation and test windows come from the
/// first `trainFraction`, the next `validationFraction` and the remaining rows
/// (`timeseriesDatasetFromArray` with start_index / end_index, as the book calls it).
public struct TimeseriesOptions: Sendable, Equatable, Codable {
  /// The column to forecast.
  public var target: String
  public var sequenceLength: Int
  public var samplingRate: Int
  public var sequenceStride: Int
  /// Rows from a window's first row to its target; nil: the book's
  /// samplingRate * (sequenceLength + 24 - 1), the value 24 sampled steps after the window's last.
  public var delay: Int?
  public var trainFraction: Double
  public var validationFraction: Double

  public init(
    target: String, sequenceLength: Int = 120, samplingRate: Int = 1, sequenceStride: Int = 1,
    delay: Int? = nil,
    trainFraction: Double = 0.5, validationFraction: Double = 0.25
  ) {
    self.target = target
    self.sequenceLength = sequenceLength
    self.samplingRate = samplingRate
    self.sequenceStride = sequenceStride
    self.delay = delay
    self.trainFraction = trainFraction
    self.validationFraction = validationFraction
  }

  public var resolvedDelay: Int { delay ?? samplingRate * (sequenceLength + 24 - 1) }
}

/// Timeseries windows split three ways, with the naive forecast's error beside them. The
/// training and validation windows are one array, the validation ones last (what a hold-out of
/// the last rows takes), so the series is windowed into memory once.
public struct TimeseriesSplits {
  /// The training windows (the first `trainCount` rows), then the validation windows.
  public var trainAndValidation: LabeledData
  public var trainCount: Int
  public var validationCount: Int
  public var test: LabeledData
  /// The mean absolute error of forecasting each window's target by the target column's last
  /// value in the window (the book's common-sense baseline), on the validation and test windows.
  public var baselineValidationMAE: Double
  public var baselineTestMAE: Double

  /// `trainLimit`: keep only the first N training windows (`--samples`).
  public init(table: CSVTable, options o: TimeseriesOptions, trainLimit: Int? = nil) throws {
    guard let targetIndex = table.columns.firstIndex(of: o.target) else {
      throw DLPError.data(
        "no target column '\(o.target)' (columns: \(table.columns.joined(separator: ", ")))")
    }
    for (name, fraction) in [("train", o.trainFraction), ("validation", o.validationFraction)]
    where !(fraction > 0 && fraction < 1) {
      throw DLPError.config("the \(name) fraction must be in (0, 1). Received: \(fraction)")
    }
    guard o.trainFraction + o.validationFraction < 1 else {
      throw DLPError.config(
        "the train and validation fractions leave no test rows: \(o.trainFraction) + \(o.validationFraction)"
      )
    }
    let (n, columns) = (table.rowCount, table.columns.count)
    let delay = o.resolvedDelay
    guard delay >= 0, delay < n else {
      throw DLPError.config("the delay (\(delay) rows) must be in 0..<\(n), the rows of the series")
    }
    let numTrain = Int(o.trainFraction * Double(n))
    let numValidation = Int(o.validationFraction * Double(n))
    // Normalise every column with the training rows' statistics (numpy's mean and std), in
    // double precision from the cells as written, as the book's float64 arrays are.
    let cells = table.doubleValues ?? table.values.map(Double.init)
    var normalized = table.values
    for c in 0..<columns {
      var sum = 0.0
      for r in 0..<numTrain { sum += cells[r * columns + c] }
      let mean = sum / Double(Swift.max(numTrain, 1))
      var squares = 0.0
      for r in 0..<numTrain {
        let d = cells[r * columns + c] - mean
        squares += d * d
      }
      let std = (squares / Double(Swift.max(numTrain, 1))).squareRoot()
      let scale = std > 0 ? std : 1
      for r in 0..<n {
        normalized[r * columns + c] = Float((cells[r * columns + c] - mean) / scale)
      }
    }
    // data = normalized[:-delay], targets = raw target[delay:] (the book's call).
    let data = Array(normalized[..<((n - delay) * columns)])
    let raw = (0..<n).map { Float(cells[$0 * columns + targetIndex]) }
    let targets = Array(raw[delay...])
    let rows = n - delay
    /// The window starts timeseries_dataset_from_array takes between start and end.
    func starts(_ start: Int, _ end: Int?) throws -> [Int] {
      let last = Swift.min(end ?? rows, rows)
      guard start < last else { return [] }
      var count = last - start - (o.sequenceLength - 1) * o.samplingRate
      count = Swift.min(count, targets.count - start)
      let s = count > 0 ? stride(from: 0, to: count, by: o.sequenceStride).map { start + $0 } : []
      guard !s.isEmpty else {
        throw DLPError.data(
          "no window of \(o.sequenceLength) steps every \(o.samplingRate) rows fits in rows \(start)..<\(last) of the \(n)-row series (delay \(delay)); shorten the windows or change the fractions"
        )
      }
      return s
    }
    guard o.sequenceLength > 0, o.samplingRate > 0, o.sequenceStride > 0 else {
      throw DLPError.config(
        "sequence_length, sampling_rate and sequence_stride must be positive. Received: \(o.sequenceLength), \(o.samplingRate), \(o.sequenceStride)"
      )
    }
    var trainStarts = try starts(0, numTrain)
    if let limit = trainLimit { trainStarts = Array(trainStarts.prefix(Swift.max(limit, 1))) }
    let validationStarts = try starts(numTrain, numTrain + numValidation)
    let testStarts = try starts(numTrain + numValidation, nil)
    func windows(_ s: [Int]) throws -> LabeledData {
      let (x, y) = try timeseriesWindows(
        data, columns: columns, targets: targets, starts: s, sequenceLength: o.sequenceLength,
        samplingRate: o.samplingRate)
      return LabeledData(x: x, y: y!)
    }
    trainAndValidation = try windows(trainStarts + validationStarts)
    trainCount = trainStarts.count
    validationCount = validationStarts.count
    test = try windows(testStarts)
    // The last value of the target column in each window (raw), against its target.
    func baseline(_ s: [Int]) -> Double {
      var total = 0.0
      for start in s {
        total += Double(abs(raw[start + (o.sequenceLength - 1) * o.samplingRate] - targets[start]))
      }
      return total / Double(s.count)
    }
    baselineValidationMAE = baseline(validationStarts)
    baselineTestMAE = baseline(testStarts)
  }
}
