/// Keras's Dropout: in training, zeroes each element with probability `rate` and divides the
/// rest by 1 - rate; identity at inference. The masks are Keras's on JAX, bit for bit (see
/// `StepRandomness`), and the same on 1 worker or N.
public final class Dropout: Layer {
  public let rate: Float
  public let seed: Int?

  public init(_ rate: Float, seed: Int? = nil, name: String? = nil) throws {
    guard rate >= 0 && rate < 1 else {
      throw DLPError.config("Dropout: expected a rate in [0, 1). Received: rate=\(rate)")
    }
    self.rate = rate
    self.seed = seed
    super.init(name: name, defaultPrefix: "dropout")
  }

  public override var className: String { "Dropout" }

  /// Keras passes a mask through this layer (supports_masking).
  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  /// Keras's Dropout makes a `SeedGenerator(seed)`, which draws a default seed when seed is nil.
  public override var kerasSeedGenerators: Int { seed == nil ? 1 : 0 }

  public override func scratchWidths() -> [Int] { [inputShapes[0].reduce(1, *)] }

  public override func forward(_ p: ForwardPass) {
    let width = inputShapes[0].reduce(1, *)
    let n = p.batch * width
    let x = p.inputs[0]
    let y = p.output
    guard p.training, rate > 0 else {
      y.update(from: x, count: n)
      return
    }
    let mask = p.scratch[0]
    // Keras: mask = jax.random.bernoulli([seed, calls so far], 1 - rate, (batch, width)), y =
    // select(mask, x / keep, 0); row r of the global batch owns counters r * width ..< (r + 1) * width.
    let keep = keepProbability
    let key = (generatorSeed, p.randomness.counter)
    let rowOffset = p.randomness.rowOffset
    Parallel.forEach(p.batch, minimumPerChunk: Swift.max(1, 8192 / Swift.max(width, 1))) {
      _, rows in
      for r in rows {
        let m = mask + r * width
        Threefry.units(key: key, from: UInt64(rowOffset + r) * UInt64(width), count: width, into: m)
        for j in 0..<width { m[j] = m[j] < keep ? 1 : 0 }
      }
    }
    for i in 0..<n { y[i] = mask[i] != 0 ? x[i] / keep : 0 }
  }

  /// 1 - rate in double precision, as Keras computes it, then float32.
  var keepProbability: Float { Float(1 - Double(rate)) }

  /// The first word of the mask's key: the layer's own seed, or the default one its model drew.
  var generatorSeed: UInt32 {
    seed.map { UInt32(truncatingIfNeeded: $0) } ?? generatorSeeds.first ?? 0
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let n = p.batch * inputShapes[0].reduce(1, *)
    // Backward only runs after a training forward, which filled the mask (or copied through).
    if rate > 0 {
      let mask = p.scratch[0]
      let keep = keepProbability
      for i in 0..<n { dx[i] = mask[i] != 0 ? p.outputGrad[i] / keep : 0 }
    } else {
      dx.update(from: p.outputGrad, count: n)
    }
  }

  public override func config() -> [String: JSONValue] {
    ["rate": JSONValue(rate), "seed": seed.map { JSONValue($0) } ?? .null, "noise_shape": nil]
  }
}
