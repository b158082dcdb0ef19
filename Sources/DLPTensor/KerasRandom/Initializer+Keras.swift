import Foundation

extension Initializer {
  /// Whether Keras's class draws a default seed when it is constructed without one (its
  /// `RandomInitializer`s call `random.make_default_seed()`, one `random.randint(1, 1e9)`).
  public var drawsKerasSeed: Bool {
    switch self {
    case .zeros, .ones, .constant, .seeded: return false
    case .glorotUniform, .glorotNormal, .heUniform, .heNormal, .lecunUniform, .randomUniform,
      .randomNormal, .orthogonal:
      return true
    }
  }

  /// Fills `buffer` (a weight of `shape`, C order) as Keras 3 on JAX fills it from an
  /// initialiser whose seed is `kerasSeed`: `jax.random.uniform` on the key [kerasSeed, 0]
  /// between the bounds Keras computes in double precision. The uniform initialisers match
  /// Keras bit for bit. The normal ones (JAX's truncated normal goes through XLA's own erfinv)
  /// draw from a DLP stream keyed by `kerasSeed` instead: same distribution, not the same
  /// numbers.
  public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, shape: [Int], kerasSeed: UInt32) {
    let key = (kerasSeed, UInt32(0))
    /// Keras's `VarianceScaling` with a uniform distribution: limit = sqrt(3 * scale / n).
    func varianceScaling(_ scale: Double, _ n: Double) {
      let limit = (3 * scale / Swift.max(1, n)).squareRoot()
      Threefry.uniform(key: key, minval: Float(-limit), maxval: Float(limit), into: buffer)
    }
    let (fanIn, fanOut) = Initializer.fans(shape)
    switch self {
    case .glorotUniform: varianceScaling(1, (Double(fanIn) + Double(fanOut)) / 2)
    case .heUniform: varianceScaling(2, Double(fanIn))
    case .lecunUniform: varianceScaling(1, Double(fanIn))
    case .randomUniform(let lo, let hi):
      Threefry.uniform(key: key, minval: lo, maxval: hi, into: buffer)
    case .seeded(let i, let own): i.fill(buffer, shape: shape, kerasSeed: own)
    default:
      var rng = SeededGenerator(seed: KeyedRandom.key(UInt64(kerasSeed), 0x4B45_5241))
      fill(buffer, shape: shape, rng: &rng)
    }
  }
}
