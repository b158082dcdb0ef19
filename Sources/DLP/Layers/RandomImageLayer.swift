import DLPTensor

/// What Keras's random image layers (RandomFlip, RandomRotation, RandomZoom,
/// RandomTranslation, RandomContrast) share: a seed generator, active in training only, and
/// per-image random parameters drawn as Keras 3 on JAX draws them.
///
/// Keras's layer makes `SeedGenerator(seed)` in its constructor (a default seed from Python's
/// `random` when seed is None, see `KerasSeeding`); each call in training draws `drawsPerCall`
/// times, the d-th with the key [seed, (calls so far) * drawsPerCall + d], as
/// `jax.random.uniform(key, (batch, 1, ...))`. Image r of the GLOBAL batch takes counter r under
/// that key (`StepRandomness.rowOffset`), so a worker draws the rows it holds and the
/// augmentation does not depend on how many workers there are. Inputs are channels-last
/// images (height, width, channels).
open class RandomImageLayer: Layer {
  public let seed: Int?

  init(seed: Int?, name: String?, defaultPrefix: String) {
    self.seed = seed
    super.init(name: name, defaultPrefix: defaultPrefix)
  }

  public override var kerasSeedGenerators: Int { seed == nil ? 1 : 0 }

  /// How many `uniform` draws one call makes (RandomTranslation: 2).
  open var drawsPerCall: Int { 1 }

  var generatorSeed: UInt32 {
    seed.map { UInt32(truncatingIfNeeded: $0) } ?? generatorSeeds.first ?? 0
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard inputShapes[0].count == 3 else {
      throw DLPError.shape(
        "\(className) '\(name)' expects images of shape (None, height, width, channels); received \(describeShapes(inputShapes))"
      )
    }
    return inputShapes[0]
  }

  var imageHeight: Int { inputShapes[0][0] }
  var imageWidth: Int { inputShapes[0][1] }
  var imageChannels: Int { inputShapes[0][2] }
  var imageSize: Int { inputShapes[0].reduce(1, *) }

  /// Keras's `random.uniform(minval, maxval)` of draw `draw` of this call, for row `row` of
  /// this pass's batch: max(minval, unit * (maxval - minval) + minval) in float32.
  func uniform(_ p: ForwardPass, draw: Int, row: Int, minval: Double, maxval: Double) -> Float {
    let calls = UInt64(p.randomness.counter)
    let counter = UInt32(truncatingIfNeeded: calls &* UInt64(drawsPerCall) &+ UInt64(draw))
    let unit = Threefry.unit(key: (generatorSeed, counter), counter: UInt64(p.randomness.rowOffset + row))
    let (lo, hi) = (Float(minval), Float(maxval))
    return Swift.max(lo, lo.addingProduct(unit, hi - lo))
  }

  /// Keras's `factor` argument as a (lower, upper) pair: a number f gives (-f, f) clipped to
  /// `bounds`, a list of two is sorted; both within `bounds`.
  static func factorPair(
    _ v: JSONValue?, key: String, bounds: ClosedRange<Double>, context: String
  ) throws -> (Double, Double) {
    let message =
      "\(context): expected \(key) to be a number or a list of two numbers in [\(bounds.lowerBound), \(bounds.upperBound)]. Received: \(key)=\(v?.serialized() ?? "nothing")"
    if let f = v?.double {
      guard bounds.contains(f) else { throw DLPError.config(message) }
      return (Swift.max(-Swift.abs(f), bounds.lowerBound), Swift.abs(f))
    }
    guard let a = v?.array?.compactMap(\.double), a.count == 2,
      a[0] <= bounds.upperBound, a[1] >= bounds.lowerBound
    else { throw DLPError.config(message) }
    return (Swift.min(a[0], a[1]), Swift.max(a[0], a[1]))
  }
}

/// The geometric random layers (rotation, zoom, translation): each image is resampled under
/// its own affine transform (`AffineSampling`), kept in scratch for backward.
open class AffineAugmentation: RandomImageLayer {
  public let fillMode: FillMode
  public let fillValue: Float
  public let interpolation: Interpolation

  init(
    fillMode: FillMode, fillValue: Float, interpolation: Interpolation, seed: Int?, name: String?,
    defaultPrefix: String
  ) {
    self.fillMode = fillMode
    self.fillValue = fillValue
    self.interpolation = interpolation
    super.init(seed: seed, name: name, defaultPrefix: defaultPrefix)
  }

  /// Writes row `row`'s transform [a0, a1, a2, b0, b1, b2, c0, c1] (output -> input pixel).
  open func transform(_ p: ForwardPass, row: Int, into t: UnsafeMutablePointer<Float>) {}

  /// Per sample: the 8 transform parameters (to redo the sampling in backward) and a training flag.
  public override func scratchWidths() -> [Int] { [9] }

  var sampler: AffineSampling {
    AffineSampling(
      height: imageHeight, width: imageWidth, channels: imageChannels, fillMode: fillMode,
      fillValue: fillValue, interpolation: interpolation)
  }

  public override func forward(_ p: ForwardPass) {
    let n = imageSize
    let saved = p.scratch[0]
    guard p.training else {
      // Inference: the identity (the flag tells backward).
      p.output.update(from: p.inputs[0], count: p.batch * n)
      if p.batch > 0 { saved[8] = 0 }
      return
    }
    if p.batch > 0 { saved[8] = 1 }
    for r in 0..<p.batch { transform(p, row: r, into: saved + r * 9) }
    let s = sampler
    let (x, y) = (p.inputs[0], p.output)
    Parallel.forEach(p.batch) { _, rows in
      for r in rows { s.forward(x + r * n, transform: saved + r * 9, into: y + r * n) }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let n = imageSize
    let saved = p.scratch[0]
    guard p.batch > 0, saved[8] != 0 else {
      dx.update(from: p.outputGrad, count: p.batch * n)
      return
    }
    let s = sampler
    let dy = UnsafePointer(p.outputGrad)
    Parallel.forEach(p.batch) { _, rows in
      for r in rows { s.backward(dy + r * n, transform: saved + r * 9, into: dx + r * n) }
    }
  }

  /// The config keys every affine layer writes.
  var samplingConfig: [String: JSONValue] {
    [
      "fill_mode": .string(fillMode.rawValue), "fill_value": JSONValue(Double(fillValue)),
      "interpolation": .string(interpolation.rawValue), "seed": seed.map { JSONValue($0) } ?? .null,
      "data_format": "channels_last",
    ]
  }
}

extension LayerConfig {
  /// fill_mode, fill_value and interpolation of an affine augmentation layer.
  func sampling() throws -> (FillMode, Float, Interpolation) {
    try requireChannelsLast()
    return (
      try FillMode(keras: string("fill_mode", default: "reflect"), context: context),
      Float(json["fill_value"]?.double ?? 0),
      try Interpolation(keras: string("interpolation", default: "bilinear"), context: context)
    )
  }
}
