/// Keras's Dropout: in training, zeroes each element with probability `rate` and scales the
/// rest by 1 / (1 - rate); identity at inference. The mask of a sample is keyed by
/// (seed, epoch, sample id, layer), so it is the same on 1 worker or N.
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
    // Training always passes sample ids; without them every sample would share one mask.
    guard let ids = p.randomness.sampleIDs else {
      mask.update(repeating: 1, count: n)
      y.update(from: x, count: n)
      return
    }
    let keep = 1 / (1 - rate)
    for r in 0..<p.batch {
      let key = KeyedRandom.key(
        p.randomness.seed, UInt64(bitPattern: Int64(seed ?? 0)), p.randomness.nodeSalt, UInt64(p.randomness.epoch), UInt64(ids[r]))
      let m = mask + r * width
      for j in 0..<width { m[j] = KeyedRandom.uniform(key, UInt64(j)) < rate ? 0 : keep }
    }
    for i in 0..<n { y[i] = x[i] * mask[i] }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let n = p.batch * inputShapes[0].reduce(1, *)
    // Backward only runs after a training forward, which filled the mask (or copied through).
    if rate > 0 {
      let mask = p.scratch[0]
      for i in 0..<n { dx[i] = p.outputGrad[i] * mask[i] }
    } else {
      dx.update(from: p.outputGrad, count: n)
    }
  }

  public override func config() -> [String: JSONValue] {
    ["rate": JSONValue(rate), "seed": seed.map { JSONValue($0) } ?? .null, "noise_shape": nil]
  }
}
