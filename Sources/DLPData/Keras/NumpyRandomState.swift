/// A port of numpy's legacy `np.random.RandomState(seed)` (MT19937), as far as Keras's dataset
/// loaders use it: seeding with an integer, and `shuffle`.
///
/// keras.datasets splits boston_housing and reuters, and orders imdb, with
/// `RandomState(113).shuffle(np.arange(n))`; reproducing numpy bit for bit is what makes
/// "the first training target is 15.2" true here too.
public struct NumpyRandomState: Sendable {
  private static let n = 624
  private static let m = 397
  private var key: [UInt32]
  private var position: Int

  /// `RandomState(seed)` for an integer seed: numpy's legacy seeding runs MT19937's
  /// `init_genrand` on the 32-bit seed (not `init_by_array`, which it uses for array seeds).
  public init(seed: UInt32) {
    var key = [UInt32](repeating: 0, count: NumpyRandomState.n)
    var s = seed
    for i in 0..<NumpyRandomState.n {
      key[i] = s
      s = 1_812_433_253 &* (s ^ (s >> 30)) &+ UInt32(i + 1)
    }
    self.key = key
    self.position = NumpyRandomState.n
  }

  /// `RandomState(seed)` for an array seed (`init_by_array`), for completeness.
  public init(seedArray: [UInt32]) {
    self.init(seed: 19_650_218)
    let n = NumpyRandomState.n
    var i = 1
    var j = 0
    for _ in 0..<max(n, seedArray.count) {
      key[i] =
        (key[i] ^ ((key[i - 1] ^ (key[i - 1] >> 30)) &* 1_664_525)) &+ seedArray[j]
        &+ UInt32(j)
      i += 1
      j += 1
      if i >= n {
        key[0] = key[n - 1]
        i = 1
      }
      if j >= seedArray.count { j = 0 }
    }
    for _ in 0..<(n - 1) {
      key[i] = (key[i] ^ ((key[i - 1] ^ (key[i - 1] >> 30)) &* 1_566_083_941)) &- UInt32(i)
      i += 1
      if i >= n {
        key[0] = key[n - 1]
        i = 1
      }
    }
    key[0] = 0x8000_0000
    position = n
  }

  /// Regenerates the 624-word state block (MT19937's "twist").
  private mutating func generate() {
    let n = NumpyRandomState.n
    let m = NumpyRandomState.m
    key.withUnsafeMutableBufferPointer { k in
      @inline(__always) func twist(_ i: Int, _ next: Int, _ far: Int) {
        let y = (k[i] & 0x8000_0000) | (k[next] & 0x7FFF_FFFF)
        k[i] = k[far] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
      }
      for i in 0..<(n - m) { twist(i, i + 1, i + m) }
      for i in (n - m)..<(n - 1) { twist(i, i + 1, i + m - n) }
      twist(n - 1, 0, m - 1)
    }
    position = 0
  }

  /// The next 32 random bits (`genrand_int32`).
  public mutating func nextUInt32() -> UInt32 {
    if position == NumpyRandomState.n { generate() }
    var y = key[position]
    position += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C_5680
    y ^= (y << 15) & 0xEFC6_0000
    y ^= y >> 18
    return y
  }

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

  /// `indices = np.arange(n); rng.shuffle(indices)`: the permutation Keras applies to its rows.
  public mutating func shuffledIndices(_ count: Int) -> [Int] {
    var indices = Array(0..<count)
    shuffle(&indices)
    return indices
  }
}
