/// A loss over a batch: the SUM of per-sample losses (the caller divides by the global batch,
/// which is how N workers add up to exactly the single-process gradient), and its gradient.
public protocol Loss: Sendable {
  /// Keras's name (`sparse_categorical_crossentropy`, `mse`, ...).
  var name: String { get }
  /// Target values per sample for an output of `outputWidth` values per sample.
  func targetWidth(outputWidth: Int) -> Int
  /// The activation this loss can fuse with (softmax for categorical cross-entropy, sigmoid for
  /// binary): when the output layer ends in it, the loss receives logits instead.
  var fusableActivation: Activation? { get }
  /// Keras's `from_logits`: the output's values are logits whatever its layer's activation
  /// (the loss applies softmax or sigmoid itself; predictions stay the raw output).
  var fromLogits: Bool { get }
  /// Checks targets before training (labels in range, ...); throws with the offending index.
  func validate(targets: UnsafeBufferPointer<Float>, outputWidth: Int) throws
  /// Sum over `rows` samples of the per-sample loss. `output` holds probabilities, or logits
  /// when `fused`; `prediction` receives the probabilities (it may alias `output` when not
  /// fused). When `grad` is non-nil it receives d(loss sum)/d(output, or logits) * `gradScale`.
  func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double
}

extension Loss {
  public var fusableActivation: Activation? { nil }
  public var fromLogits: Bool { false }
  public func targetWidth(outputWidth: Int) -> Int { outputWidth }
  public func validate(targets: UnsafeBufferPointer<Float>, outputWidth: Int) throws {}
}

public enum Losses {
  /// Looks a loss up by its Keras name or alias.
  public static func named(_ name: String) throws -> any Loss {
    switch name {
    case "sparse_categorical_crossentropy", "SparseCategoricalCrossentropy": return SparseCategoricalCrossentropy()
    case "categorical_crossentropy", "CategoricalCrossentropy": return CategoricalCrossentropy()
    case "binary_crossentropy", "BinaryCrossentropy": return BinaryCrossentropy()
    case "mse", "mean_squared_error", "MeanSquaredError": return MeanSquaredError()
    case "mae", "mean_absolute_error", "MeanAbsoluteError": return MeanAbsoluteError()
    default:
      throw DLPError.config(
        "unsupported loss '\(name)'; expected sparse_categorical_crossentropy, categorical_crossentropy, binary_crossentropy, mse or mae")
    }
  }
}
