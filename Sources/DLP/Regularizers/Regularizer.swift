/// Keras's weight regularisers: a penalty added to the loss once per batch (after the gradient
/// all-reduce, never once per worker) and its gradient.
public enum Regularizer: Sendable, Equatable {
  case l1(Float)
  case l2(Float)
  case l1l2(l1: Float, l2: Float)

  var l1: Float {
    switch self {
    case .l1(let a): return a
    case .l2: return 0
    case .l1l2(let a, _): return a
    }
  }

  var l2: Float {
    switch self {
    case .l1: return 0
    case .l2(let b): return b
    case .l1l2(_, let b): return b
    }
  }

  /// Penalty l1 * sum|w| + l2 * sum w^2, accumulated in Double.
  public func penalty(_ w: UnsafePointer<Float>, count: Int) -> Double {
    var abs = 0.0
    var sq = 0.0
    for i in 0..<count {
      abs += Double(Swift.abs(w[i]))
      sq += Double(w[i]) * Double(w[i])
    }
    return Double(l1) * abs + Double(l2) * sq
  }

  /// Adds the penalty's gradient, l1 * sign(w) + 2 * l2 * w, into `grad`.
  public func addGradient(_ w: UnsafePointer<Float>, into grad: UnsafeMutablePointer<Float>, count: Int) {
    let a = l1
    let b2 = 2 * l2
    for i in 0..<count {
      let s: Float = w[i] > 0 ? 1 : (w[i] < 0 ? -1 : 0)
      grad[i] += a * s + b2 * w[i]
    }
  }

  /// Keras's class name: L1, L2 or L1L2.
  public var kerasClassName: String {
    switch self {
    case .l1: return "L1"
    case .l2: return "L2"
    case .l1l2: return "L1L2"
    }
  }

  public var kerasConfig: [String: JSONValue] {
    switch self {
    case .l1(let a): return ["l1": JSONValue(a)]
    case .l2(let b): return ["l2": JSONValue(b)]
    case .l1l2(let a, let b): return ["l1": JSONValue(a), "l2": JSONValue(b)]
    }
  }
}
