/// Mean over the last axis of (p - y)^2.
public struct MeanSquaredError: Loss {
  public init() {}
  public var name: String { "mse" }

  public func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double {
    let n = rows * width
    let inv = 1 / Float(width)
    var total = 0.0
    for i in 0..<n {
      let d = output[i] - target[i]
      total += Double(d * d * inv)
      prediction[i] = output[i]
      grad?[i] = 2 * d * inv * gradScale
    }
    return total
  }
}

/// Mean over the last axis of |p - y|.
public struct MeanAbsoluteError: Loss {
  public init() {}
  public var name: String { "mae" }

  public func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double {
    let n = rows * width
    let inv = 1 / Float(width)
    var total = 0.0
    for i in 0..<n {
      let d = output[i] - target[i]
      total += Double(Swift.abs(d) * inv)
      prediction[i] = output[i]
      grad?[i] = (d > 0 ? 1 : (d < 0 ? -1 : 0)) * inv * gradScale
    }
    return total
  }
}
