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

  /// `jax.random.uniform(key, (buffer.count,), float32, minval, maxval)`, flattened in C order:
  /// 23 random mantissa bits under exponent 0 give f in [1, 2); the value is
  /// max(minval, fma(f - 1, maxval - minval, minval)) in float32.
  public static func uniform(
    key: (UInt32, UInt32), minval: Float, maxval: Float,
    into buffer: UnsafeMutableBufferPointer<Float>
  ) {
    let span = maxval - minval
    for i in buffer.indices {
      let f = Float(bitPattern: (bits(key: key, counter: UInt64(i)) >> 9) | 0x3F80_0000) - 1
      // XLA's CPU backend contracts the multiply-add into one fused operation.
      buffer[i] = Swift.max(minval, minval.addingProduct(f, span))
    }
  }
}
