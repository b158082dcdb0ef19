import CKernels
import Foundation

/// Keras's Adam: m += (g - m)(1 - b1); v += (g^2 - v)(1 - b2);
/// w -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps).
public final class Adam: Optimizer {
  public let beta1: Float
  public let beta2: Float
  public let epsilon: Float

  public init(
    learningRate: Float = 0.001, beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-7
  ) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
    super.init(learningRate: learningRate)
  }

  public override var kerasClassName: String { "Adam" }
  public override var slotCount: Int { 2 }
  public override func config() -> [String: JSONValue] {
    [
      "learning_rate": JSONValue(learningRate), "beta_1": JSONValue(beta1),
      "beta_2": JSONValue(beta2),
      "epsilon": JSONValue(epsilon), "amsgrad": false,
    ]
  }

  public override func updateStep(
    params w: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>],
    slotOffset o: Int, count n: Int, step: Int
  ) {
    let m = slots[0] + o
    let v = slots[1] + o
    let t = Double(step)
    let alpha = Float(
      Double(learningRate) * (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t)))
    // m += (g - m)(1 - beta1); v += (g g - v)(1 - beta2); w -= m alpha / (sqrt(v) + eps), at
    // the CPU's widest vector width (`VectorKernels`).
    dlp_adam_update(
      VectorKernels.current.rawValue, w, g, m, v, n, 1 - beta1, 1 - beta2, alpha, epsilon)
  }
}
