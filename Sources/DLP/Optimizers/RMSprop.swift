import CKernels
import DLPTensor

/// Keras's RMSprop: v = rho * v + (1 - rho) * g^2; w -= lr * g / sqrt(v + eps).
public final class RMSprop: Optimizer {
  public let rho: Float
  public let epsilon: Float

  public init(learningRate: Float = 0.001, rho: Float = 0.9, epsilon: Float = 1e-7) {
    self.rho = rho
    self.epsilon = epsilon
    super.init(learningRate: learningRate)
  }

  public override var kerasClassName: String { "RMSprop" }
  public override var slotCount: Int { 1 }
  public override func config() -> [String: JSONValue] {
    [
      "learning_rate": JSONValue(learningRate), "rho": JSONValue(rho),
      "epsilon": JSONValue(epsilon),
      "momentum": 0.0, "centered": false,
    ]
  }

  public override func updateStep(
    params w: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>],
    slotOffset o: Int, count n: Int, step: Int
  ) {
    // v = rho v + (1 - rho) g g; w -= lr g / sqrt(v + eps), element by element, at the CPU's
    // widest vector width (`VectorKernels`).
    dlp_rmsprop_update(
      VectorKernels.current.rawValue, w, g, slots[0] + o, n, rho, 1 - rho, learningRate, epsilon)
  }
}
