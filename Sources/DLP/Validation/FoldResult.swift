/// What one task reports: its per-epoch history (`loss`, metrics, `val_*`) and the final-epoch
/// validation metrics under their plain names (`loss`, `mae`, ...: what the book's
/// `model.evaluate(val_data, val_targets)` returns).
public struct FoldResult: Sendable, Equatable {
  public var `repeat`: Int
  public var fold: Int
  public var history: History
  public var evaluation: [String: Double]
  /// Wall seconds the task took (model construction, training and validation).
  public var seconds: Double

  public init(
    repeat r: Int, fold: Int, history: History, evaluation: [String: Double], seconds: Double = 0
  ) {
    self.repeat = r
    self.fold = fold
    self.history = history
    self.evaluation = evaluation
    self.seconds = seconds
  }

  /// Training samples processed (samples x completed epochs).
  public var trainedSamples: Int { history.trainSamples * history.epochs.count }

  /// The report's entry: `{"repeat", "fold", "history", "evaluation"}`.
  public var json: JSONValue {
    [
      "repeat": JSONValue(self.repeat), "fold": JSONValue(fold), "history": history.json,
      "evaluation": .object(evaluation.mapValues { JSONValue($0) }),
    ]
  }

  public static func == (a: FoldResult, b: FoldResult) -> Bool {
    a.repeat == b.repeat && a.fold == b.fold && a.evaluation == b.evaluation
      && a.history.history == b.history.history
      && a.history.epochs == b.history.epochs && a.history.trainSamples == b.history.trainSamples
      && a.history.stoppedReason == b.history.stoppedReason
  }
}

/// Results travel back from workers; History is coded field by field here so this file does not
/// depend on History's own conformances.
extension FoldResult: Codable {
  enum CodingKeys: String, CodingKey {
    case `repeat`, fold, history, epochs
    case epochSeconds = "epoch_seconds"
    case trainSamples = "train_samples"
    case stoppedReason = "stopped_reason"
    case evaluation, seconds
  }

  public init(from decoder: Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    var h = History()
    h.history = try c.decode([String: [Double]].self, forKey: .history)
    h.epochs = try c.decode([Int].self, forKey: .epochs)
    h.epochSeconds = try c.decode([Double].self, forKey: .epochSeconds)
    h.trainSamples = try c.decode(Int.self, forKey: .trainSamples)
    h.stoppedReason = try c.decodeIfPresent(String.self, forKey: .stoppedReason)
    self.init(
      repeat: try c.decode(Int.self, forKey: .repeat), fold: try c.decode(Int.self, forKey: .fold),
      history: h,
      evaluation: try c.decode([String: Double].self, forKey: .evaluation),
      seconds: try c.decode(Double.self, forKey: .seconds))
  }

  public func encode(to encoder: Encoder) throws {
    var c = encoder.container(keyedBy: CodingKeys.self)
    try c.encode(self.repeat, forKey: .repeat)
    try c.encode(fold, forKey: .fold)
    try c.encode(history.history, forKey: .history)
    try c.encode(history.epochs, forKey: .epochs)
    try c.encode(history.epochSeconds, forKey: .epochSeconds)
    try c.encode(history.trainSamples, forKey: .trainSamples)
    try c.encodeIfPresent(history.stoppedReason, forKey: .stoppedReason)
    try c.encode(evaluation, forKey: .evaluation)
    try c.encode(seconds, forKey: .seconds)
  }
}
