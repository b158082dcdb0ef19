/// The part of CPython's `random` module that Keras draws its default seeds from:
/// `random.seed(n)` for an int n, then `random.randint(a, b)`.
public struct PythonRandom: Sendable {
  private var mt: MersenneTwister

  /// `random.seed(seed)`: the key is |seed|'s 32-bit words, least significant first.
  public init(seed: UInt64) {
    let lo = UInt32(truncatingIfNeeded: seed)
    let hi = UInt32(truncatingIfNeeded: seed >> 32)
    mt = MersenneTwister(key: hi == 0 ? [lo] : [lo, hi])
  }

  /// `random.getrandbits(k)` for 1 <= k <= 32.
  public mutating func getrandbits(_ k: Int) -> UInt32 {
    precondition((1...32).contains(k), "getrandbits(\(k)) is only reproduced for k in 1...32")
    return mt.next32() >> UInt32(32 - k)
  }

  /// `random.randint(a, b)`: a + `_randbelow(b - a + 1)`, which draws bit_length(n) bits and
  /// rejects values >= n. Reproduced for ranges up to 2^32.
  public mutating func randint(_ a: Int, _ b: Int) -> Int {
    let n = UInt64(b - a + 1)
    precondition(n >= 1 && n <= 1 << 32, "randint range \(a)...\(b) is not reproduced")
    let k = 64 - n.leadingZeroBitCount
    var r = UInt64(getrandbits(k))
    while r >= n { r = UInt64(getrandbits(k)) }
    return a + Int(r)
  }
}
