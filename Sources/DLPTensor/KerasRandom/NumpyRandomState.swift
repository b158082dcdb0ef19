/// A port of numpy's legacy `np.random.RandomState(seed)` (MT19937), as far as Keras uses it:
/// seeding with an integer, `shuffle` and `permutation`.
///
/// keras.datasets splits boston_housing and reuters, and orders imdb, with
/// `RandomState(113).shuffle(np.arange(n))`; reproducing numpy bit for bit is what makes
/// "the first training target is 15.2" true here too. Keras's `fit` shuffles each epoch with
/// `np.random.permutation` on the global state (`KerasEpochOrders` in DLP).
public struct NumpyRandomState: Sendable {
  private var mt: MersenneTwister

  /// `RandomState(seed)` for an integer seed: numpy's legacy seeding runs MT19937's
  /// `init_genrand` on the 32-bit seed (not `init_by_array`, which it uses for array seeds).
  public init(seed: UInt32) { mt = MersenneTwister(seed: seed) }

  /// `RandomState(seed)` for an array seed (`init_by_array`).
  public init(seedArray: [UInt32]) { mt = MersenneTwister(key: seedArray) }

  /// `np.random.seed(seed)` for any 64-bit seed: `init_genrand` below 2^32; above, which numpy
  /// only takes as an array, as `np.random.seed([low 32 bits, high 32 bits])`.
  public init(seed64 seed: UInt64) {
    if seed <= UInt64(UInt32.max) {
      self.init(seed: UInt32(seed))
    } else {
      self.init(seedArray: [
        UInt32(truncatingIfNeeded: seed), UInt32(truncatingIfNeeded: seed >> 32),
      ])
    }
  }

  /// The next 32 random bits (`genrand_int32`).
  @inline(__always)
  public mutating func nextUInt32() -> UInt32 { mt.next32() }

  /// 64 random bits: two 32-bit draws, the first in the high half (numpy's `mt19937_next64`).
  public mutating func nextUInt64() -> UInt64 {
    let high = UInt64(nextUInt32())
    return high << 32 | UInt64(nextUInt32())
  }

  /// `random_sample()`: a double in [0, 1) with 53 random bits.
  public mutating func nextDouble() -> Double {
    let a = Double(nextUInt32() >> 5)
    let b = Double(nextUInt32() >> 6)
    return (a * 67_108_864 + b) / 9_007_199_254_740_992
  }

  /// numpy's `random_interval(max)`: uniform in 0...max by rejection sampling under the
  /// smallest all-ones bit mask covering `max` (32-bit draws while `max` fits in 32 bits).
  public mutating func randomInterval(_ max: UInt64) -> UInt64 {
    if max == 0 { return 0 }
    var mask = max
    mask |= mask >> 1
    mask |= mask >> 2
    mask |= mask >> 4
    mask |= mask >> 8
    mask |= mask >> 16
    mask |= mask >> 32
    if max <= 0xFFFF_FFFF {
      while true {
        let value = UInt64(nextUInt32()) & mask
        if value <= max { return value }
      }
    }
    while true {
      let value = nextUInt64() & mask
      if value <= max { return value }
    }
  }

  /// `RandomState.shuffle(x)` for a 1-D array: Fisher-Yates from the end, swapping element `i`
  /// with `random_interval(i)` for i = n-1 down to 1.
  public mutating func shuffle<T>(_ elements: inout [T]) {
    guard elements.count > 1 else { return }
    for i in stride(from: elements.count - 1, through: 1, by: -1) {
      let j = Int(randomInterval(UInt64(i)))
      elements.swapAt(i, j)
    }
  }

  /// `indices = np.arange(n); rng.shuffle(indices)`, which is also `np.random.permutation(n)`:
  /// the permutation Keras applies to its rows.
  public mutating func shuffledIndices(_ count: Int) -> [Int] {
    var indices = Array(0..<count)
    shuffle(&indices)
    return indices
  }
}
