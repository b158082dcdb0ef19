import DLPTensor

/// What a seed means in DLP: what `keras.utils.set_random_seed(seed)` means to a Keras 3
/// program on the JAX backend that builds the model and then calls `fit` once.
///
/// - Initial weights. Keras gives every random initialiser (and every seed generator, such as
///   Dropout's) constructed without a seed a default one, `random.randint(1, 10**9)` from
///   Python's `random`, in the order the layers are constructed; the weight is then
///   `jax.random.uniform` on the key [that seed, 0]. DLP draws the same seeds in its layers'
///   order (the Sequential's order; for a functional model, the topological one) and fills the
///   uniform initialisers with the same numbers, bit for bit (`Initializer.fill(_:shape:kerasSeed:)`).
/// - Epoch orders. Keras's array adapter shuffles with NumPy's global generator: one
///   `np.random.permutation(n)` when `fit` first peeks at the data to build the model's
///   metrics and optimizer, then one per epoch. `KerasEpochOrders` draws the same ones.
///
/// - Dropout masks. A Dropout's seed generator starts at [its seed, 0] and counts up by one
///   per call, one call per training step; the mask of a step is
///   `jax.random.bernoulli([seed, count], 1 - rate, (batch, width))` (`StepRandomness`).
///
/// So a Keras program and DLP with the same seed start from the same weights, see the batches
/// in the same order and drop the same units; they then differ only by float32 summation
/// order.
public enum KerasSeeding {
  /// The Keras default seed of each weight of each layer (nil for the weights whose
  /// initialiser draws none) and of each of its seed generators, drawn as Keras's constructors
  /// draw them.
  static func seeds(for layers: [Layer], seed: UInt64) -> [(
    weights: [UInt32?], generators: [UInt32]
  )] {
    var python = PythonRandom(seed: seed)
    return layers.map { layer in
      var weights = [UInt32?](repeating: nil, count: layer.weightSpecs.count)
      var generators = [UInt32](repeating: 0, count: layer.kerasSeedGenerators)
      for draw in layer.kerasSeedDraws {
        let value = UInt32(python.randint(1, 1_000_000_000))
        switch draw {
        case .weight(let i): weights[i] = value
        case .generator(let j): generators[j] = value
        case .discarded: break
        }
      }
      return (weights, generators)
    }
  }
}

/// One default seed a Keras constructor draws: for a weight's initialiser, for a seed
/// generator, or for an object Keras builds and throws away (the layer a Bidirectional is given
/// is constructed, drawing its seeds, then re-created from its config twice).
public enum KerasSeedDraw: Equatable, Sendable {
  case weight(Int)
  case generator(Int)
  case discarded
}

/// The sample orders of a Keras `fit` on `count` samples after `np.random.seed(seed)`: the
/// permutation of the first peek is drawn and dropped, then `next()` gives one per epoch.
public struct KerasEpochOrders: Sendable {
  private var numpy: NumpyRandomState
  private let count: Int

  public init(seed: UInt64, count: Int) {
    numpy = NumpyRandomState(seed64: seed)
    self.count = count
    _ = numpy.shuffledIndices(count)
  }

  public mutating func next() -> [Int] { numpy.shuffledIndices(count) }
}
