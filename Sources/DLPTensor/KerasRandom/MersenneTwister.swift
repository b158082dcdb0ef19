/// MT19937, the generator behind Python's `random` and NumPy's legacy `np.random`, bit for bit
/// (Matsumoto and Nishimura's reference `genrand_int32`, with both of their seeding routines).
///
/// DLP uses it only to reproduce the random numbers a Keras program draws after
/// `keras.utils.set_random_seed(seed)` (see `KerasSeeding`); its own streams are SplitMix64.
public struct MersenneTwister: Sendable {
  private var state = [UInt32](repeating: 0, count: 624)
  private var index = 624

  /// `init_genrand(seed)`: NumPy's `np.random.seed(seed)` for seed < 2^32.
  public init(seed: UInt32) {
    state[0] = seed
    for i in 1..<624 {
      let prev = state[i - 1]
      state[i] = 1_812_433_253 &* (prev ^ (prev >> 30)) &+ UInt32(i)
    }
    index = 624
  }

  /// `init_by_array(key)`: Python's `random.seed(n)` for an int n, whose key is |n|'s 32-bit
  /// words, least significant first.
  public init(key: [UInt32]) {
    self.init(seed: 19_650_218)
    let k = key.isEmpty ? [0] : key
    var i = 1
    var j = 0
    for _ in 0..<Swift.max(624, k.count) {
      let prev = state[i - 1]
      state[i] = (state[i] ^ ((prev ^ (prev >> 30)) &* 1_664_525)) &+ k[j] &+ UInt32(j)
      i += 1
      j += 1
      if i >= 624 {
        state[0] = state[623]
        i = 1
      }
      if j >= k.count { j = 0 }
    }
    for _ in 0..<623 {
      let prev = state[i - 1]
      state[i] = (state[i] ^ ((prev ^ (prev >> 30)) &* 1_566_083_941)) &- UInt32(i)
      i += 1
      if i >= 624 {
        state[0] = state[623]
        i = 1
      }
    }
    state[0] = 0x8000_0000
    index = 624
  }

  /// `genrand_int32`: the next tempered 32-bit output.
  public mutating func next32() -> UInt32 {
    if index >= 624 { twist() }
    var y = state[index]
    index += 1
    y ^= y >> 11
    y ^= (y << 7) & 0x9D2C_5680
    y ^= (y << 15) & 0xEFC6_0000
    y ^= y >> 18
    return y
  }

  /// Regenerates the 624-word state block.
  private mutating func twist() {
    state.withUnsafeMutableBufferPointer { k in
      @inline(__always) func twist(_ i: Int, _ next: Int, _ far: Int) {
        let y = (k[i] & 0x8000_0000) | (k[next] & 0x7FFF_FFFF)
        k[i] = k[far] ^ (y >> 1) ^ (y & 1 == 0 ? 0 : 0x9908_B0DF)
      }
      for i in 0..<(624 - 397) { twist(i, i + 1, i + 397) }
      for i in (624 - 397)..<623 { twist(i, i + 1, i + 397 - 624) }
      twist(623, 0, 396)
    }
    index = 0
  }
}
