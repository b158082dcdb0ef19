/// Keras's weight initialisers, by their Keras names.
public enum Initializer: Sendable, Equatable {
  case zeros
  case ones
  case constant(Float)
  case glorotUniform
  case glorotNormal
  case heUniform
  case heNormal
  case lecunUniform
  case randomUniform(min: Float, max: Float)
  case randomNormal(mean: Float, stddev: Float)
  /// Keras's Orthogonal: the Q of a normal matrix's QR decomposition (signs fixed by R's
  /// diagonal), times `gain`; the recurrent kernels' default.
  case orthogonal(gain: Float)
  /// A random initialiser given its own seed (Keras's `GlorotUniform(seed=42)`): it draws no
  /// default seed, and fills from the key [seed, 0] (`fill(_:shape:kerasSeed:)`).
  indirect case seeded(Initializer, seed: UInt32)

  /// The Keras class name (`GlorotUniform`, `Zeros`, ...).
  public var kerasClassName: String {
    switch self {
    case .zeros: return "Zeros"
    case .ones: return "Ones"
    case .constant: return "Constant"
    case .glorotUniform: return "GlorotUniform"
    case .glorotNormal: return "GlorotNormal"
    case .heUniform: return "HeUniform"
    case .heNormal: return "HeNormal"
    case .lecunUniform: return "LecunUniform"
    case .randomUniform: return "RandomUniform"
    case .randomNormal: return "RandomNormal"
    case .orthogonal: return "Orthogonal"
    case .seeded(let i, _): return i.kerasClassName
    }
  }

  /// Keras's fan computation: for a kernel (..., fanIn, fanOut), receptive field = product of the
  /// leading axes.
  public static func fans(_ shape: [Int]) -> (fanIn: Float, fanOut: Float) {
    switch shape.count {
    case 0: return (1, 1)
    case 1: return (Float(shape[0]), Float(shape[0]))
    default:
      let receptive = Float(shape.dropLast(2).reduce(1, *))
      return (Float(shape[shape.count - 2]) * receptive, Float(shape[shape.count - 1]) * receptive)
    }
  }

  /// Fills `buffer` (a weight of `shape`) from `rng`.
  public func fill(_ buffer: UnsafeMutableBufferPointer<Float>, shape: [Int], rng: inout SeededGenerator) {
    let (fanIn, fanOut) = Initializer.fans(shape)
    func uniform(_ limit: Float) {
      for i in buffer.indices { buffer[i] = (rng.nextUniform() * 2 - 1) * limit }
    }
    // Keras's "normal" variance-scaling initialisers draw from a normal truncated at 2 sigma,
    // with the std corrected by 0.8796...
    func truncatedNormal(_ std: Float) {
      let s = std / 0.879_625_8
      for i in buffer.indices {
        var v: Float
        repeat { v = rng.nextNormal() } while abs(v) > 2
        buffer[i] = v * s
      }
    }
    switch self {
    case .zeros: buffer.update(repeating: 0)
    case .ones: buffer.update(repeating: 1)
    case .constant(let c): buffer.update(repeating: c)
    case .glorotUniform: uniform((6 / (fanIn + fanOut)).squareRoot())
    case .glorotNormal: truncatedNormal((2 / (fanIn + fanOut)).squareRoot())
    case .heUniform: uniform((6 / fanIn).squareRoot())
    case .heNormal: truncatedNormal((2 / fanIn).squareRoot())
    case .lecunUniform: uniform((3 / fanIn).squareRoot())
    case .randomUniform(let lo, let hi):
      for i in buffer.indices { buffer[i] = lo + rng.nextUniform() * (hi - lo) }
    case .randomNormal(let mean, let std):
      for i in buffer.indices { buffer[i] = mean + rng.nextNormal() * std }
    case .orthogonal(let gain): Initializer.orthogonal(buffer, shape: shape, gain: gain, rng: &rng)
    case .seeded(let i, let seed): i.fill(buffer, shape: shape, kerasSeed: seed)
    }
  }
}
