import Foundation

/// Keras clips probabilities to [eps, 1 - eps] when it is given probabilities, not logits.
let probabilityEpsilon: Float = 1e-7

/// -log p[label], with integer labels. Fused with softmax (or `fromLogits`): loss =
/// logsumexp(z) - z[label], gradient p - onehot(label). On probabilities, each row is divided
/// by its sum first, as Keras does (`output / sum(output, axis)`), then clipped.
public struct SparseCategoricalCrossentropy: Loss {
  /// Keras's `from_logits`: the output holds logits whatever the output layer's activation.
  public let fromLogits: Bool

  public init(fromLogits: Bool = false) {
    self.fromLogits = fromLogits
  }

  public var name: String { "sparse_categorical_crossentropy" }
  public var fusableActivation: Activation? { .softmax }
  public func targetWidth(outputWidth: Int) -> Int { 1 }

  public func validate(targets: UnsafeBufferPointer<Float>, outputWidth: Int) throws {
    for (i, t) in targets.enumerated() where !(t >= 0 && t < Float(outputWidth) && t == t.rounded()) {
      throw DLPError.training(
        "label \(t) at index \(i) is out of range for an output of \(outputWidth) classes (expected an integer in 0..<\(outputWidth))")
    }
  }

  public func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double {
    var total = 0.0
    for r in 0..<rows {
      let z = output + r * width
      let p = prediction + r * width
      let label = Int(target[r])
      if fused {
        if p != UnsafeMutablePointer(mutating: z) { p.update(from: z, count: width) }
        let lse = Activation.softmaxRow(p, width)
        total += Double(lse - z[label])
        if let g = grad {
          let gr = g + r * width
          for j in 0..<width { gr[j] = p[j] * gradScale }
          gr[label] -= gradScale
        }
      } else {
        var s: Float = 0
        for j in 0..<width { s += z[j] }
        let q = z[label] / s
        let pl = Swift.min(Swift.max(q, probabilityEpsilon), 1 - probabilityEpsilon)
        total -= Double(Foundation.log(pl))
        if let g = grad {
          let gr = g + r * width
          // d(-log(z_l / s))/dz_j = 1/s - [j = l]/z_l; zero where the clip is active, as
          // Keras's clip does.
          let active = q > probabilityEpsilon && q < 1 - probabilityEpsilon
          for j in 0..<width { gr[j] = active ? gradScale / s : 0 }
          if active { gr[label] -= gradScale / (q * s) }
        }
      }
    }
    return total
  }
}

/// -sum_j y_j log p_j with one-hot (or soft) targets; `labelSmoothing` ls uses
/// y (1 - ls) + ls / classes instead of y, as Keras does.
public struct CategoricalCrossentropy: Loss {
  public let fromLogits: Bool
  public let labelSmoothing: Float

  public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
    self.fromLogits = fromLogits
    self.labelSmoothing = labelSmoothing
  }

  public var name: String { "categorical_crossentropy" }
  public var fusableActivation: Activation? { .softmax }

  public func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double {
    // Smoothed targets, one row at a time, only when asked (the common case reads y in place).
    withUnsafeTemporaryAllocation(of: Float.self, capacity: labelSmoothing > 0 ? width : 1) { smoothed in
      var total = 0.0
      for r in 0..<rows {
        var y = target + r * width
        if labelSmoothing > 0 {
          for j in 0..<width { smoothed[j] = y[j] * (1 - labelSmoothing) + labelSmoothing / Float(width) }
          y = UnsafePointer(smoothed.baseAddress!)
        }
        total += row(z: output + r * width, y: y, p: prediction + r * width, g: grad.map { $0 + r * width }, width: width, fused: fused, gradScale: gradScale)
      }
      return total
    }
  }

  /// One sample's loss (and gradient into `g`).
  private func row(
    z: UnsafePointer<Float>, y: UnsafePointer<Float>, p: UnsafeMutablePointer<Float>, g: UnsafeMutablePointer<Float>?,
    width: Int, fused: Bool, gradScale: Float
  ) -> Double {
    var total = 0.0
    if fused {
      if p != UnsafeMutablePointer(mutating: z) { p.update(from: z, count: width) }
      let lse = Activation.softmaxRow(p, width)
      var ysum: Float = 0
      for j in 0..<width {
        total += Double(y[j] * (lse - z[j]))
        ysum += y[j]
      }
      if let gr = g {
        for j in 0..<width { gr[j] = (p[j] * ysum - y[j]) * gradScale }
      }
    } else {
      // Keras renormalises probabilities to sum 1 before the log.
      var s: Float = 0
      for j in 0..<width { s += z[j] }
      for j in 0..<width {
        let pj = Swift.min(Swift.max(z[j] / s, probabilityEpsilon), 1 - probabilityEpsilon)
        total -= Double(y[j] * Foundation.log(pj))
      }
      if let gr = g {
        var ysum: Float = 0
        for j in 0..<width { ysum += y[j] }
        for j in 0..<width {
          let q = z[j] / s
          let active = q > probabilityEpsilon && q < 1 - probabilityEpsilon
          gr[j] = ((active ? -y[j] / q : 0) / s + ysum / s) * gradScale
        }
      }
    }
    return total
  }
}

/// Mean over the last axis of -(y log p + (1 - y) log(1 - p)). Fused with sigmoid (or
/// `fromLogits`): max(z, 0) - z y + log(1 + e^-|z|), gradient (sigmoid(z) - y) / width.
/// `labelSmoothing` ls uses y (1 - ls) + ls / 2 instead of y, as Keras does.
public struct BinaryCrossentropy: Loss {
  public let fromLogits: Bool
  public let labelSmoothing: Float

  public init(fromLogits: Bool = false, labelSmoothing: Float = 0) {
    self.fromLogits = fromLogits
    self.labelSmoothing = labelSmoothing
  }

  public var name: String { "binary_crossentropy" }
  public var fusableActivation: Activation? { .sigmoid }

  public func evaluate(
    output: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int, fused: Bool,
    prediction: UnsafeMutablePointer<Float>, grad: UnsafeMutablePointer<Float>?, gradScale: Float
  ) -> Double {
    var total = 0.0
    let n = rows * width
    let inv = 1 / Float(width)
    for i in 0..<n {
      let z = output[i]
      let y = target[i] * (1 - labelSmoothing) + 0.5 * labelSmoothing
      if fused {
        let l = Swift.max(z, 0) - z * y + Foundation.log1p(Foundation.exp(-Swift.abs(z)))
        total += Double(l * inv)
        let p = Activation.sigmoid(z)
        prediction[i] = p
        grad?[i] = (p - y) * inv * gradScale
      } else {
        let p = Swift.min(Swift.max(z, probabilityEpsilon), 1 - probabilityEpsilon)
        total -= Double((y * Foundation.log(p) + (1 - y) * Foundation.log(1 - p)) * inv)
        if let g = grad {
          let active = z > probabilityEpsilon && z < 1 - probabilityEpsilon
          g[i] = active ? (p - y) / (p * (1 - p)) * inv * gradScale : 0
        }
      }
    }
    return total
  }
}
