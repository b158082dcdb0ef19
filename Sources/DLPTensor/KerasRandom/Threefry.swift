/// JAX's default PRNG: the Threefry-2x32 block cipher (20 rounds, Salmon et al. 2011) and the
/// way `jax.random.uniform` turns its output into float32, in JAX's "partitionable" layout (the
/// default since JAX 0.5): element i of an array is the cipher of the 64-bit counter i under
/// the key, its two output words XORed.
public enum Threefry {
  /// The cipher of the counter pair (x0, x1) under the key (k0, k1).
  @inline(__always)
  public static func hash(_ k0: UInt32, _ k1: UInt32, _ x0: UInt32, _ x1: UInt32) -> (
    UInt32, UInt32
  ) {
    let ks = (k0, k1, k0 ^ k1 ^ 0x1BD1_1BDA)
    var a = x0 &+ ks.0
    var b = x1 &+ ks.1
    @inline(__always) func round(_ r: UInt32) {
      a = a &+ b
      b = (b << r) | (b >> (32 - r))
      b ^= a
    }
    @inline(__always) func rounds(_ r0: UInt32, _ r1: UInt32, _ r2: UInt32, _ r3: UInt32) {
      round(r0)
      round(r1)
      round(r2)
      round(r3)
    }
    rounds(13, 15, 26, 6)
    a = a &+ ks.1
    b = b &+ ks.2 &+ 1
    rounds(17, 29, 16, 24)
    a = a &+ ks.2
    b = b &+ ks.0 &+ 2
    rounds(13, 15, 26, 6)
    a = a &+ ks.0
    b = b &+ ks.1 &+ 3
    rounds(17, 29, 16, 24)
    a = a &+ ks.1
    b = b &+ ks.2 &+ 4
    rounds(13, 15, 26, 6)
    a = a &+ ks.2
    b = b &+ ks.0 &+ 5
    return (a, b)
  }

  /// `jax.random.bits(key, shape)[i]` for 32-bit output.
  @inline(__always)
  public static func bits(key: (UInt32, UInt32), counter: UInt64) -> UInt32 {
    let (a, b) = hash(
      key.0, key.1, UInt32(truncatingIfNeeded: counter >> 32), UInt32(truncatingIfNeeded: counter))
    return a ^ b
  }

  /// `jax.random.uniform(key, shape, float32)[i]` (in [0, 1)) for flat index `counter`.
  @inline(__always)
  public static func unit(key: (UInt32, UInt32), counter: UInt64) -> Float {
    Float(bitPattern: (bits(key: key, counter: counter) >> 9) | 0x3F80_0000) - 1
  }

  /// `unit(key:counter:)` for the counters start ..< start + count, into `out`: 16 at a time
  /// in vector registers (a dropout mask is a few hundred thousand of them per step).
  public static func units(
    key: (UInt32, UInt32), from start: UInt64, count: Int, into out: UnsafeMutablePointer<Float>
  ) {
    typealias V = SIMD16<UInt32>
    let k0 = V(repeating: key.0)
    let k1 = V(repeating: key.1)
    let k2 = V(repeating: key.0 ^ key.1 ^ 0x1BD1_1BDA)
    let lanes = V(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
    var i = 0
    while i + 16 <= count {
      let c = start &+ UInt64(i)
      // The 16 counters share their high word unless the low one wraps inside the chunk.
      guard UInt32(truncatingIfNeeded: c) <= UInt32.max - 15 else { break }
      var a = V(repeating: UInt32(truncatingIfNeeded: c >> 32)) &+ k0
      var b = (V(repeating: UInt32(truncatingIfNeeded: c)) &+ lanes) &+ k1
      @inline(__always) func round(_ r: UInt32) {
        a = a &+ b
        b = (b &<< V(repeating: r)) | (b &>> V(repeating: 32 - r))
        b ^= a
      }
      @inline(__always) func rounds(_ r0: UInt32, _ r1: UInt32, _ r2: UInt32, _ r3: UInt32) {
        round(r0)
        round(r1)
        round(r2)
        round(r3)
      }
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
      let mantissa = ((a ^ b) &>> 9) | V(repeating: 0x3F80_0000)
      for l in 0..<16 { out[i + l] = Float(bitPattern: mantissa[l]) - 1 }
      i += 16
    }
    while i < count {
      out[i] = unit(key: key, counter: start &+ UInt64(i))
      i += 1
    }
  }

  /// `jax.random.uniform(key, (buffer.count,), float32, minval, maxval)`, flattened in C order:
  /// 23 random mantissa bits under exponent 0 give f in [1, 2); the value is
  /// max(minval, fma(f - 1, maxval - minval, minval)) in float32.
  public static func uniform(
    key: (UInt32, UInt32), minval: Float, maxval: Float,
    into buffer: UnsafeMutableBufferPointer<Float>
  ) {
    let span = maxval - minval
    for i in buffer.indices {
      let f = unit(key: key, counter: UInt64(i))
      // XLA's CPU backend contracts the multiply-add into one fused operation.
      buffer[i] = Swift.max(minval, minval.addingProduct(f, span))
    }
  }
}
