/// A metric whose state is a vector of sums: states from different batches or workers add up,
/// so a metric summed across N workers is exactly the single-process value.
public protocol Metric: Sendable {
  /// The history key (Keras uses the name the user gave: `accuracy`, `mae`, ...).
  var name: String { get }
  var stateSize: Int { get }
  /// Adds `rows` samples to `state`. `prediction` holds probabilities / values.
  func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>)
  func result(_ state: UnsafeBufferPointer<Double>) -> Double
}

public enum Metrics {
  /// Resolves a metric name as Keras 3's compile does: `accuracy` becomes binary, sparse or
  /// categorical accuracy according to the loss and the output width.
  public static func named(_ name: String, loss: any Loss, outputWidth: Int) throws -> any Metric {
    switch name {
    case "accuracy", "acc":
      if loss is BinaryCrossentropy || outputWidth == 1 { return BinaryAccuracy(name: name) }
      if loss is SparseCategoricalCrossentropy { return SparseCategoricalAccuracy(name: name) }
      return CategoricalAccuracy(name: name)
    case "binary_accuracy": return BinaryAccuracy(name: name)
    case "sparse_categorical_accuracy": return SparseCategoricalAccuracy(name: name)
    case "categorical_accuracy": return CategoricalAccuracy(name: name)
    case "mae", "mean_absolute_error": return MeanError(name: name, squared: false)
    case "mse", "mean_squared_error": return MeanError(name: name, squared: true)
    case "precision": return Precision(name: name)
    case "recall": return Recall(name: name)
    case "auc", "AUC": return AUC(name: name)
    default:
      throw DLPError.config(
        "unsupported metric '\(name)'; expected accuracy, binary_accuracy, categorical_accuracy, sparse_categorical_accuracy, mae, mse, precision, recall or auc")
    }
  }
}

@inline(__always) func argmax(_ p: UnsafePointer<Float>, _ width: Int) -> Int {
  var best = 0
  for j in 1..<Swift.max(width, 1) where p[j] > p[best] { best = j }
  return best
}

/// Fraction of samples whose argmax matches the integer label. State: (correct, count).
public struct SparseCategoricalAccuracy: Metric {
  public let name: String
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows where argmax(prediction + r * width, width) == Int(target[r]) { state[0] += 1 }
    state[1] += Double(rows)
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[1] > 0 ? s[0] / s[1] : 0 }
}

/// Fraction of samples whose argmax matches the target's argmax.
public struct CategoricalAccuracy: Metric {
  public let name: String
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows where argmax(prediction + r * width, width) == argmax(target + r * width, width) {
      state[0] += 1
    }
    state[1] += Double(rows)
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[1] > 0 ? s[0] / s[1] : 0 }
}

/// Mean over samples of the fraction of outputs where (p > 0.5) == y.
public struct BinaryAccuracy: Metric {
  public let name: String
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows {
      var hits = 0
      for j in 0..<width where (prediction[r * width + j] > 0.5 ? 1 : 0) == target[r * width + j] { hits += 1 }
      state[0] += Double(hits) / Double(width)
    }
    state[1] += Double(rows)
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[1] > 0 ? s[0] / s[1] : 0 }
}

/// Mean absolute or squared error, averaged over the last axis then over samples.
public struct MeanError: Metric {
  public let name: String
  public let squared: Bool
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for r in 0..<rows {
      var s = 0.0
      for j in 0..<width {
        let d = Double(prediction[r * width + j] - target[r * width + j])
        s += squared ? d * d : Swift.abs(d)
      }
      state[0] += s / Double(width)
    }
    state[1] += Double(rows)
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[1] > 0 ? s[0] / s[1] : 0 }
}

/// TP / (TP + FP) at threshold 0.5 over every output element.
public struct Precision: Metric {
  public let name: String
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<(rows * width) where prediction[i] > 0.5 {
      if target[i] > 0.5 { state[0] += 1 } else { state[1] += 1 }
    }
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[0] + s[1] > 0 ? s[0] / (s[0] + s[1]) : 0 }
}

/// TP / (TP + FN) at threshold 0.5 over every output element.
public struct Recall: Metric {
  public let name: String
  public var stateSize: Int { 2 }
  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    for i in 0..<(rows * width) where target[i] > 0.5 {
      if prediction[i] > 0.5 { state[0] += 1 } else { state[1] += 1 }
    }
  }
  public func result(_ s: UnsafeBufferPointer<Double>) -> Double { s[0] + s[1] > 0 ? s[0] / (s[0] + s[1]) : 0 }
}
