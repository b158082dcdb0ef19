/// JAX's default PRNG: the Threefry-2x32 block cipher (20 rounds, Salmon et al. 2011) and the
/// way `jax.random.uniform` turns its output into float32, in JAX's "partitionable" layout (the
/// default since JAX 0.5): element i of an array is the cipher of the 64-bit counter i under
/// the key, its two output words XORed.
///
/// One implementation, on 16 counters at a time in vector registers (a dropout mask is a few
/// hundred thousand of them per step); a single counter is lane 0 of it.
public enum Threefry {
  typealias Lanes = SIMD16<UInt32>

  /// The cipher of the 16 counters (hi, lo) under `key`, its two output words XORed.
  @inline(__always)
  static func cipher(key: (UInt32, UInt32), hi: Lanes, lo: Lanes) -> Lanes {
    let k0 = Lanes(repeating: key.0)
    let k1 = Lanes(repeating: key.1)
    let k2 = Lanes(repeating: key.0 ^ key.1 ^ 0x1BD1_1BDA)
    var a = hi &+ k0
    var b = lo &+ k1
    @inline(__always) func round(_ r: UInt32) {
      a = a &+ b
      b = ((b &<< Lanes(repeating: r)) | (b &>> Lanes(repeating: 32 - r))) ^ a
    }
    @inline(__always) func rounds(_ r0: UInt32, _ r1: UInt32, _ r2: UInt32, _ r3: UInt32) {
      round(r0)
      round(r1)
      round(r2)
      round(r3)
    }
    // Five groups of four rounds, each followed by a key injection.
    rounds(13, 15, 26, 6)
    a = a &+ k1
    b = b &+ k2 &+ 1
    rounds(17, 29, 16, 24)
    a = a &+ k2
    b = b &+ k0 &+ 2
    rounds(13, 15, 26, 6)
    a = a &+ k0
    b = b &+ k1 &+ 3
    rounds(17, 29, 16, 24)
    a = a &+ k1
    b = b &+ k2 &+ 4
    rounds(13, 15, 26, 6)
    a = a &+ k2
    b = b &+ k0 &+ 5
    return a ^ b
  }

  /// The cipher of the counters start ..< start + 16.
  @inline(__always)
  static func cipher(key: (UInt32, UInt32), from start: UInt64) -> Lanes {
    let lo0 = UInt32(truncatingIfNeeded: start)
    let lo = Lanes(repeating: lo0) &+ Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    // A lane whose low word wrapped carries into the high word.
    let hi =
      Lanes(repeating: UInt32(truncatingIfNeeded: start >> 32))
      &+ Lanes(repeating: 0).replacing(with: 1, where: lo .< Lanes(repeating: lo0))
    return cipher(key: key, hi: hi, lo: lo)
  }

  /// `jax.random.bits(key, shape)[i]` for 32-bit output.
  public static func bits(key: (UInt32, UInt32), counter: UInt64) -> UInt32 {
    cipher(key: key, from: counter)[0]
  }

  /// `jax.random.uniform(key, shape, float32)[i]` (in [0, 1)) for flat index `counter`.
  public static func unit(key: (UInt32, UInt32), counter: UInt64) -> Float {
    Float(bitPattern: (bits(key: key, counter: counter) >> 9) | 0x3F80_0000) - 1
  }

  /// `unit(key:counter:)` for the counters start ..< start + count, into `out`: 23 random
  /// mantissa bits under exponent 0 give f in [1, 2), less 1.
  public static func units(
    key: (UInt32, UInt32), from start: UInt64, count: Int, into out: UnsafeMutablePointer<Float>
  ) {
    var i = 0
    while i < count {
      let mantissa =
        (cipher(key: key, from: start &+ UInt64(i)) &>> 9) | Lanes(repeating: 0x3F80_0000)
      for l in 0..<Swift.min(16, count - i) { out[i + l] = Float(bitPattern: mantissa[l]) - 1 }
      i += 16
    }
  }

  /// `jax.random.uniform(key, (buffer.count,), float32, minval, maxval)`, flattened in C order:
  /// max(minval, fma(unit, maxval - minval, minval)) in float32.
  public static func uniform(
    key: (UInt32, UInt32), minval: Float, maxval: Float,
    into buffer: UnsafeMutableBufferPointer<Float>
  ) {
    guard let base = buffer.baseAddress else { return }
    units(key: key, from: 0, count: buffer.count, into: base)
    let span = maxval - minval
    // XLA's CPU backend contracts the multiply-add into one fused operation.
    for i in buffer.indices { buffer[i] = Swift.max(minval, minval.addingProduct(buffer[i], span)) }
  }
}
