import Foundation

/// Keras's element-wise activations. Every derivative here is written in terms of the
/// activation's *output*, so layers keep no pre-activation copy for backward.
public enum Activation: String, Sendable, CaseIterable {
  case linear, relu, sigmoid, softmax, tanh, elu

  public init(kerasName: String) throws {
    guard let a = Activation(rawValue: kerasName) else {
      throw DLPError.config(
        "unsupported activation '\(kerasName)'; expected one of \(Activation.allCases.map(\.rawValue))")
    }
    self = a
  }

  /// Applies the activation in place to `rows` rows of `width` values.
  public func apply(_ x: UnsafeMutablePointer<Float>, rows: Int, width: Int) {
    let n = rows * width
    switch self {
    case .linear: return
    case .relu:
      for i in 0..<n { x[i] = Swift.max(x[i], 0) }
    case .sigmoid:
      for i in 0..<n { x[i] = Activation.sigmoid(x[i]) }
    case .tanh:
      for i in 0..<n { x[i] = Foundation.tanh(x[i]) }
    case .elu:
      for i in 0..<n where x[i] < 0 { x[i] = Foundation.expm1(x[i]) }
    case .softmax:
      for r in 0..<rows { Activation.softmaxRow(x + r * width, width) }
    }
  }

  /// Turns `grad` (dL/dy) into dL/dz in place, given the output `y` of the activation.
  public func backward(
    output y: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, width: Int
  ) {
    let n = rows * width
    switch self {
    case .linear: return
    case .relu:
      for i in 0..<n { grad[i] = y[i] > 0 ? grad[i] : 0 }
    case .sigmoid:
      for i in 0..<n { grad[i] *= y[i] * (1 - y[i]) }
    case .tanh:
      for i in 0..<n { grad[i] *= 1 - y[i] * y[i] }
    case .elu:
      // elu'(z) = 1 for z > 0, e^z = y + 1 otherwise.
      for i in 0..<n where y[i] <= 0 { grad[i] *= y[i] + 1 }
    case .softmax:
      // dz_i = y_i * (g_i - sum_j g_j y_j), row by row.
      for r in 0..<rows {
        let yr = y + r * width
        let gr = grad + r * width
        var dot: Float = 0
        for j in 0..<width { dot += gr[j] * yr[j] }
        for j in 0..<width { gr[j] = yr[j] * (gr[j] - dot) }
      }
    }
  }

  @inline(__always) static func sigmoid(_ z: Float) -> Float {
    z >= 0 ? 1 / (1 + Foundation.exp(-z)) : Foundation.exp(z) / (1 + Foundation.exp(z))
  }

  /// Stable softmax of one row, in place; returns log(sum(exp(z - max))) + max (log-sum-exp).
  @discardableResult
  static func softmaxRow(_ z: UnsafeMutablePointer<Float>, _ width: Int) -> Float {
    var m = -Float.infinity
    for j in 0..<width { m = Swift.max(m, z[j]) }
    var s: Float = 0
    for j in 0..<width {
      let e = Foundation.exp(z[j] - m)
      z[j] = e
      s += e
    }
    let inv = 1 / s
    for j in 0..<width { z[j] *= inv }
    return Foundation.log(s) + m
  }
}
