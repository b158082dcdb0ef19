/// Keras's SGD: with momentum, m = momentum * m - lr * g; w += m (nesterov: w += momentum * m - lr * g).
public final class SGD: Optimizer {
  public let momentum: Float
  public let nesterov: Bool

  public init(learningRate: Float = 0.01, momentum: Float = 0, nesterov: Bool = false) {
    self.momentum = momentum
    self.nesterov = nesterov
    super.init(learningRate: learningRate)
  }

  public override var kerasClassName: String { "SGD" }
  public override var slotCount: Int { momentum > 0 ? 1 : 0 }
  public override func config() -> [String: JSONValue] {
    [
      "learning_rate": JSONValue(learningRate), "momentum": JSONValue(momentum),
      "nesterov": .bool(nesterov),
    ]
  }

  public override func updateStep(
    params w: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>],
    slotOffset o: Int, count n: Int, step: Int
  ) {
    let lr = learningRate
    guard momentum > 0 else {
      for i in 0..<n { w[i] -= lr * g[i] }
      return
    }
    let m = slots[0] + o
    let mu = momentum
    if nesterov {
      for i in 0..<n {
        m[i] = mu * m[i] - lr * g[i]
        w[i] += mu * m[i] - lr * g[i]
      }
    } else {
      for i in 0..<n {
        m[i] = mu * m[i] - lr * g[i]
        w[i] += m[i]
      }
    }
  }
}
