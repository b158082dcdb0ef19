import Foundation

/// Keras's `keras.optimizers.schedules`: the learning rate as a function of the optimizer's
/// step count (`iterations` before the update, as Keras's `_get_current_learning_rate` reads
/// it). Every ring worker counts the same iterations, so every worker steps with the same
/// rate without being told. Computed in float32, as Keras computes it.
public protocol LearningRateSchedule: Sendable {
  func rate(atStep step: Int) -> Float
  var kerasClassName: String { get }
  func config() -> [String: JSONValue]
}

/// `initial_learning_rate * decay_rate ^ (step / decay_steps)` (the exponent floored when
/// `staircase`).
public struct ExponentialDecay: LearningRateSchedule {
  public let initialLearningRate: Float
  public let decaySteps: Int
  public let decayRate: Float
  public let staircase: Bool
  public let name: String

  public init(
    initialLearningRate: Float, decaySteps: Int, decayRate: Float, staircase: Bool = false,
    name: String = "ExponentialDecay"
  ) throws {
    guard decaySteps > 0 else {
      throw DLPError.config(
        "Argument `decay_steps` must be > 0. Received: decay_steps=\(decaySteps)")
    }
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.decayRate = decayRate
    self.staircase = staircase
    self.name = name
  }

  public var kerasClassName: String { "ExponentialDecay" }

  public func rate(atStep step: Int) -> Float {
    var p = Float(step) / Float(decaySteps)
    if staircase { p = p.rounded(.down) }
    return initialLearningRate * Foundation.powf(decayRate, p)
  }

  public func config() -> [String: JSONValue] {
    [
      "initial_learning_rate": JSONValue(initialLearningRate), "decay_steps": JSONValue(decaySteps),
      "decay_rate": JSONValue(decayRate), "staircase": .bool(staircase), "name": .string(name),
    ]
  }
}

/// `values[0]` up to and including `boundaries[0]`, `values[i]` in (boundaries[i-1],
/// boundaries[i]], the last value after the last boundary.
public struct PiecewiseConstantDecay: LearningRateSchedule {
  public let boundaries: [Int]
  public let values: [Float]
  public let name: String

  public init(boundaries: [Int], values: [Float], name: String = "PiecewiseConstant") throws {
    guard !boundaries.isEmpty, boundaries.count == values.count - 1 else {
      throw DLPError.config(
        "The length of boundaries should be 1 less than the length of values. Received: boundaries=\(boundaries) of length \(boundaries.count), and values=\(values) of length \(values.count)."
      )
    }
    self.boundaries = boundaries
    self.values = values
    self.name = name
  }

  public var kerasClassName: String { "PiecewiseConstantDecay" }

  public func rate(atStep step: Int) -> Float {
    for (i, b) in boundaries.enumerated() where step <= b { return values[i] }
    return values[values.count - 1]
  }

  public func config() -> [String: JSONValue] {
    [
      "boundaries": JSONValue(boundaries.map(Double.init)),
      "values": JSONValue(values.map(Double.init)),
      "name": .string(name),
    ]
  }
}

/// Cosine decay from `initial_learning_rate` (or, after a linear warm-up of `warmup_steps`, from
/// `warmup_target`) to `alpha` times that over `decay_steps`, then constant.
public struct CosineDecay: LearningRateSchedule {
  public let initialLearningRate: Float
  public let decaySteps: Int
  public let alpha: Float
  public let warmupTarget: Float?
  public let warmupSteps: Int
  public let name: String

  public init(
    initialLearningRate: Float, decaySteps: Int, alpha: Float = 0, warmupTarget: Float? = nil,
    warmupSteps: Int = 0,
    name: String = "CosineDecay"
  ) throws {
    guard decaySteps > 0 else {
      throw DLPError.config(
        "Argument `decay_steps` must be > 0. Received: decay_steps=\(decaySteps)")
    }
    guard warmupSteps >= 0 else {
      throw DLPError.config(
        "Argument `warmup_steps` must be >= 0. Received: warmup_steps=\(warmupSteps)")
    }
    self.initialLearningRate = initialLearningRate
    self.decaySteps = decaySteps
    self.alpha = alpha
    self.warmupTarget = warmupTarget
    self.warmupSteps = warmupSteps
    self.name = name
  }

  public var kerasClassName: String { "CosineDecay" }

  func decayed(_ step: Float, from lr: Float) -> Float {
    let fraction = step / Float(decaySteps)
    let cosine = 0.5 * (1 + Foundation.cosf(Float.pi * fraction))
    return lr * ((1 - alpha) * cosine + alpha)
  }

  public func rate(atStep step: Int) -> Float {
    let decay = Float(decaySteps)
    guard let target = warmupTarget else {
      return decayed(Swift.min(Float(step), decay), from: initialLearningRate)
    }
    let warm = Float(warmupSteps)
    let s = Swift.min(Float(step), decay + warm)
    if s < warm { return (target - initialLearningRate) * (s / warm) + initialLearningRate }
    return decayed(s - warm, from: target)
  }

  public func config() -> [String: JSONValue] {
    [
      "initial_learning_rate": JSONValue(initialLearningRate), "decay_steps": JSONValue(decaySteps),
      "alpha": JSONValue(alpha), "name": .string(name),
      "warmup_target": warmupTarget.map { JSONValue($0) } ?? nil,
      "warmup_steps": JSONValue(warmupSteps),
    ]
  }
}

enum LearningRateSchedules {
  /// Parses `{"module": "keras.optimizers.schedules", "class_name": ..., "config": {...}}`;
  /// arguments Keras does not have are refused by name.
  static func parse(_ v: JSONValue, context: String) throws -> LearningRateSchedule {
    let cls = v["class_name"]?.string ?? ""
    let c = try KerasArguments(v["config"], context: "\(context): learning-rate schedule \(cls)")
    switch cls {
    case "ExponentialDecay":
      try c.allow(["initial_learning_rate", "decay_steps", "decay_rate", "staircase", "name"])
      return try ExponentialDecay(
        initialLearningRate: c.float("initial_learning_rate"), decaySteps: c.int("decay_steps"),
        decayRate: c.float("decay_rate"), staircase: c.bool("staircase", default: false),
        name: c.string("name", default: "ExponentialDecay"))
    case "PiecewiseConstantDecay":
      try c.allow(["boundaries", "values", "name"])
      return try PiecewiseConstantDecay(
        boundaries: c.floats("boundaries").map { Int($0) }, values: c.floats("values"),
        name: c.string("name", default: "PiecewiseConstant"))
    case "CosineDecay":
      try c.allow([
        "initial_learning_rate", "decay_steps", "alpha", "name", "warmup_target", "warmup_steps",
      ])
      return try CosineDecay(
        initialLearningRate: c.float("initial_learning_rate"), decaySteps: c.int("decay_steps"),
        alpha: c.float("alpha", default: 0), warmupTarget: c.optionalFloat("warmup_target"),
        warmupSteps: c.int("warmup_steps", default: 0),
        name: c.string("name", default: "CosineDecay"))
    default:
      throw DLPError.config(
        "\(context): unsupported learning-rate schedule '\(cls)'; expected ExponentialDecay, PiecewiseConstantDecay or CosineDecay"
      )
    }
  }

  static func serialize(_ s: LearningRateSchedule) -> JSONValue {
    KerasObjects.object(
      module: "keras.optimizers.schedules", className: s.kerasClassName, config: s.config())
  }
}
