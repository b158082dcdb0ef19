/// Keras's BatchNormalization over the last axis. Per sample x (..., C), y (..., C); weights
/// gamma (C) and beta (C) (when `scale` / `center`), then the non-trainable moving_mean (C) and
/// moving_variance (C), in Keras's order.
///
/// Training (and trainable): each channel is normalised with the mean and biased variance of
/// the batch, y = gamma * (x - mean) / sqrt(var + eps) + beta, and the moving statistics take
/// one step, moving = moving * momentum + batch * (1 - momentum). Inference, or a layer set
/// not trainable (as Keras 3 does): the moving statistics normalise instead.
///
/// Data-parallel: the statistics are those of the GLOBAL batch. Each replica sums its rows per
/// channel in Double (count, sum and sum of squares of x - moving_mean: shifting by a value
/// every replica holds keeps the one-pass variance free of cancellation) and adds the other
/// replicas' sums with ONE `ReplicaReduction` call, so N replicas normalise exactly as one
/// process with the whole batch would (up to Double summation order). Backward does the same
/// with its two per-channel sums. A replica with no rows still makes the calls (with zeros).
public final class BatchNormalization: Layer {
  /// Kept in double precision: Keras computes 1 - momentum in Python floats.
  public let momentum: Double
  public let epsilon: Double
  public let center: Bool
  public let scale: Bool
  public let betaInitializer: Initializer
  public let gammaInitializer: Initializer
  public let movingMeanInitializer: Initializer
  public let movingVarianceInitializer: Initializer
  public let betaRegularizer: Regularizer?
  public let gammaRegularizer: Regularizer?

  public init(
    momentum: Double = 0.99, epsilon: Double = 1e-3, center: Bool = true, scale: Bool = true,
    betaInitializer: Initializer = .zeros, gammaInitializer: Initializer = .ones,
    movingMeanInitializer: Initializer = .zeros, movingVarianceInitializer: Initializer = .ones,
    betaRegularizer: Regularizer? = nil, gammaRegularizer: Regularizer? = nil, name: String? = nil
  ) throws {
    guard (0...1).contains(momentum) else {
      throw DLPError.config("BatchNormalization: expected momentum in [0, 1]. Received: momentum=\(momentum)")
    }
    guard epsilon > 0 else {
      throw DLPError.config("BatchNormalization: expected a positive epsilon. Received: epsilon=\(epsilon)")
    }
    self.momentum = momentum
    self.epsilon = epsilon
    self.center = center
    self.scale = scale
    self.betaInitializer = betaInitializer
    self.gammaInitializer = gammaInitializer
    self.movingMeanInitializer = movingMeanInitializer
    self.movingVarianceInitializer = movingVarianceInitializer
    self.betaRegularizer = betaRegularizer
    self.gammaRegularizer = gammaRegularizer
    super.init(name: name, defaultPrefix: "batch_normalization")
  }

  public override var className: String { "BatchNormalization" }

  /// Keras's `axis` as given in a config (-1, or the last axis counting the batch axis).
  var requestedAxis = -1

  var channels: Int { inputShapes[0].last ?? 1 }
  /// Indices of the weights in `weightSpecs`.
  var gammaIndex: Int? { scale ? 0 : nil }
  var betaIndex: Int? { center ? (scale ? 1 : 0) : nil }
  var movingMeanIndex: Int { (scale ? 1 : 0) + (center ? 1 : 0) }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard !inputShapes[0].isEmpty else {
      throw DLPError.shape(
        "BatchNormalization '\(name)' needs inputs with a channel axis; received \(describeShapes(inputShapes))")
    }
    guard requestedAxis == -1 || requestedAxis == inputShapes[0].count else {
      throw DLPError.config(
        "BatchNormalization '\(name)': only the last axis (-1, here \(inputShapes[0].count)) can be normalised. Received: axis=\(requestedAxis)"
      )
    }
    return inputShapes[0]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let c = inputShapes[0].last!
    if scale { addWeight("gamma", shape: [c], initializer: gammaInitializer, regularizer: gammaRegularizer) }
    if center { addWeight("beta", shape: [c], initializer: betaInitializer, regularizer: betaRegularizer) }
    addWeight("moving_mean", shape: [c], initializer: movingMeanInitializer, trainable: false)
    addWeight("moving_variance", shape: [c], initializer: movingVarianceInitializer, trainable: false)
  }

  /// What backward needs from its forward: mean (C), 1/sqrt(var + eps) (C), the global row
  /// count and whether batch statistics were used. Scratch is sized per sample, so a width of
  /// 2C + 2 per sample holds it in its first row whatever the capacity.
  public override func scratchWidths() -> [Int] { [2 * channels + 2] }

  /// Batch statistics only in training, and never in a frozen layer (Keras 3).
  func usesBatchStatistics(_ training: Bool) -> Bool { training && trainable }

  // MARK: forward

  public override func forward(_ p: ForwardPass) {
    let c = channels
    let rows = p.batch * (inputShapes[0].reduce(1, *) / c)
    let saved = p.scratch[0]
    let mean = saved
    let invStd = saved + c
    let movingMean = weight(movingMeanIndex)
    let movingVariance = weight(movingMeanIndex + 1)
    let batchStatistics = usesBatchStatistics(p.training)
    if batchStatistics {
      // [sum of (x - K), sum of (x - K)^2 per channel, row count], K = moving_mean.
      withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * c + 1) { sums in
        ChannelStatistics.shiftedSums(p.inputs[0], rows: rows, channels: c, shift: movingMean, into: sums.baseAddress!)
        sums[2 * c] = Double(rows)
        p.replicas?.sumAcrossReplicas(sums)
        let n = Swift.max(sums[2 * c], 1)
        for j in 0..<c {
          let shiftedMean = sums[j] / n
          let variance = Swift.max(sums[c + j] / n - shiftedMean * shiftedMean, 0)
          let m = Float(Double(movingMean[j]) + shiftedMean)
          let v = Float(variance)
          mean[j] = m
          invStd[j] = 1 / (v + Float(epsilon)).squareRoot()
          // Keras: moving = moving * momentum + batch * (1 - momentum), in float32.
          let (keep, take) = (Float(momentum), Float(1 - momentum))
          movingMean[j] = movingMean[j] * keep + m * take
          movingVariance[j] = movingVariance[j] * keep + v * take
        }
        saved[2 * c] = Float(sums[2 * c])
      }
    } else {
      for j in 0..<c {
        mean[j] = movingMean[j]
        invStd[j] = 1 / (movingVariance[j] + Float(epsilon)).squareRoot()
      }
    }
    saved[2 * c + 1] = batchStatistics ? 1 : 0
    // y = x * a + b with a = gamma / sqrt(var + eps), b = beta - mean * a (Keras's form).
    withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * c) { ab in
      let a = ab.baseAddress!
      let b = a + c
      for j in 0..<c {
        a[j] = invStd[j] * (scale ? weight(gammaIndex!)[j] : 1)
        b[j] = (center ? weight(betaIndex!)[j] : 0) - mean[j] * a[j]
      }
      let x = p.inputs[0]
      let y = p.output
      let (ca, cb) = (UncheckedSendable(a), UncheckedSendable(b))
      Parallel.forEach(rows, minimumPerChunk: Swift.max(1, 4096 / c)) { _, range in
        for r in range {
          let xr = x + r * c
          let yr = y + r * c
          for j in 0..<c { yr[j] = cb.value[j].addingProduct(xr[j], ca.value[j]) }
        }
      }
    }
  }

  // MARK: backward

  public override func backward(_ p: BackwardPass) {
    let c = channels
    let rows = p.batch * (inputShapes[0].reduce(1, *) / c)
    let saved = p.scratch[0]
    let mean = UnsafePointer(saved)
    let invStd = UnsafePointer(saved + c)
    let batchStatistics = saved[2 * c + 1] != 0
    let x = p.inputs[0]
    let dy = UnsafePointer(p.outputGrad)
    let gamma: UnsafePointer<Float>? = scale ? UnsafePointer(weight(gammaIndex!)) : nil
    withUnsafeTemporaryAllocation(of: Double.self, capacity: 2 * c) { sums in
      // Local per-channel sums of dy and dy * xhat: the weight gradients of beta and gamma.
      ChannelStatistics.gradientSums(
        dy, x, rows: rows, channels: c, mean: mean, invStd: invStd, into: sums.baseAddress!)
      if p.computeWeightGrads {
        if let g = gammaIndex {
          Self.write(sums.baseAddress! + c, into: weightGrad(g), count: c, accumulate: p.accumulateWeightGrads)
        }
        if let b = betaIndex {
          Self.write(sums.baseAddress!, into: weightGrad(b), count: c, accumulate: p.accumulateWeightGrads)
        }
      }
      guard let dx = p.inputGrads[0] else { return }
      withUnsafeTemporaryAllocation(of: Float.self, capacity: 3 * c) { coef in
        // dx = a * dy + k1 + k2 * (x - mean) per channel.
        let a = coef.baseAddress!
        let k1 = a + c
        let k2 = a + 2 * c
        if batchStatistics {
          // dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)) over the GLOBAL batch.
          p.replicas?.sumAcrossReplicas(sums)
          let n = Swift.max(Double(saved[2 * c]), 1)
          for j in 0..<c {
            let s = Double(invStd[j]) * Double(gamma?[j] ?? 1)
            let meanDy = sums[j] / n
            let meanDyXhat = sums[c + j] / n
            a[j] = Float(s)
            k1[j] = Float(-s * meanDy)
            k2[j] = Float(-s * Double(invStd[j]) * meanDyXhat)
          }
        } else {
          for j in 0..<c {
            a[j] = invStd[j] * (gamma?[j] ?? 1)
            k1[j] = 0
            k2[j] = 0
          }
        }
        let (ca, c1, c2) = (UncheckedSendable(a), UncheckedSendable(k1), UncheckedSendable(k2))
        Parallel.forEach(rows, minimumPerChunk: Swift.max(1, 4096 / c)) { _, range in
          for r in range {
            let xr = x + r * c
            let dyr = dy + r * c
            let dxr = dx + r * c
            for j in 0..<c { dxr[j] = ca.value[j] * dyr[j] + (c1.value[j] + c2.value[j] * (xr[j] - mean[j])) }
          }
        }
      }
    }
  }

  static func write(_ v: UnsafePointer<Double>, into g: UnsafeMutablePointer<Float>, count: Int, accumulate: Bool) {
    for j in 0..<count { g[j] = accumulate ? g[j] + Float(v[j]) : Float(v[j]) }
  }

  public override func config() -> [String: JSONValue] {
    [
      "axis": JSONValue(requestedAxis), "momentum": JSONValue(momentum), "epsilon": JSONValue(epsilon),
      "center": .bool(center), "scale": .bool(scale),
      "beta_initializer": KerasObjects.initializer(betaInitializer),
      "gamma_initializer": KerasObjects.initializer(gammaInitializer),
      "moving_mean_initializer": KerasObjects.initializer(movingMeanInitializer),
      "moving_variance_initializer": KerasObjects.initializer(movingVarianceInitializer),
      "beta_regularizer": KerasObjects.regularizer(betaRegularizer),
      "gamma_regularizer": KerasObjects.regularizer(gammaRegularizer),
      "beta_constraint": nil, "gamma_constraint": nil, "synchronized": false, "renorm": false,
      "renorm_clipping": nil, "renorm_momentum": 0.99,
    ]
  }
}

extension BatchNormalization {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    // Only the channel axis (the last): -1, or its index counting the batch axis (checked
    // against the input rank in `computeOutputShape`).
    let axis = c.optionalInt("axis") ?? -1
    for key in ["beta_constraint", "gamma_constraint", "renorm_clipping"] where !(c.json[key]?.isNull ?? true) {
      throw DLPError.config("\(c.context): key '\(key)' is not supported, got \(c.json[key]!.serialized())")
    }
    if try c.bool("renorm", default: false) {
      throw DLPError.config("\(c.context): key 'renorm' must be false (batch renormalization is not supported)")
    }
    try self.init(
      momentum: c.json["momentum"]?.double ?? 0.99, epsilon: c.json["epsilon"]?.double ?? 1e-3,
      center: c.bool("center", default: true), scale: c.bool("scale", default: true),
      betaInitializer: c.initializer("beta_initializer", default: .zeros),
      gammaInitializer: c.initializer("gamma_initializer", default: .ones),
      movingMeanInitializer: c.initializer("moving_mean_initializer", default: .zeros),
      movingVarianceInitializer: c.initializer("moving_variance_initializer", default: .ones),
      betaRegularizer: c.regularizer("beta_regularizer"), gammaRegularizer: c.regularizer("gamma_regularizer"),
      name: c.name)
    requestedAxis = axis
  }
}
