import Foundation

/// The element-wise functions of recurrent cells, eight lanes at a time: an LSTM step of the
/// book's IMDB model evaluates ~3 million sigmoids and tanhs per batch, and libm's scalar calls
/// would cost more than the matrix products. Accurate to a few ulp (Cephes' expf, Eigen's and
/// XLA's rational tanh), which is what Keras on JAX computes with too.
enum GateMath {
  typealias V = SIMD8<Float>

  /// e^x, with x clamped to [-87.3, 88] so that 2^n stays a normal float (e^x is then never
  /// infinite, and at least 1e-38).
  /// Written with compares, selects and bit casts only: Swift's generic SIMD rounding and
  /// Float -> Int32 conversion run lane by lane through library calls.
  @inline(__always) static func exp(_ x: V) -> V {
    var x = x
    x.replace(with: V(repeating: 88), where: x .> 88)
    x.replace(with: V(repeating: -87.3), where: x .< -87.3)
    // n = round(x / ln2): adding 1.5 * 2^23 leaves n in the low mantissa bits.
    let shifter = V(repeating: 12_582_912)
    let shifted = x * 1.442_695_040_888_963_4 + shifter
    let n = shifted - shifter
    // x = n ln2 + r, |r| <= ln2 / 2; ln2 split in two for an exact n ln2.
    x = x - n * 0.693_359_375 - n * -2.121_944_400_546_905_8e-4
    let z = x * x
    var y = V(repeating: 1.987_569_150_0e-4)
    y = y * x + 1.398_199_950_7e-3
    y = y * x + 8.333_451_907_3e-3
    y = y * x + 4.166_579_589_4e-2
    y = y * x + 1.666_666_545_9e-1
    y = y * x + 5.000_000_120_1e-1
    y = y * z + x + 1
    // y * 2^n through the exponent bits: (n + 127) << 23, n from the shifted value's bits.
    let bits = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- SIMD8<Int32>(repeating: 0x4B40_0000)
    let scale = (bits &+ SIMD8<Int32>(repeating: 127)) &<< SIMD8<Int32>(repeating: 23)
    return y * unsafeBitCast(scale, to: V.self)
  }

  @inline(__always) static func sigmoid(_ x: V) -> V { 1 / (1 + exp(-x)) }

  /// tanh as a rational function of degree 13/6 on [-7.9, 7.9] (beyond, +-1 in float), x
  /// itself below 4e-4 (Eigen's `generic_fast_tanh_float`, which XLA's CPU tanh also uses).
  @inline(__always) static func tanh(_ x: V) -> V {
    var c = x
    c.replace(with: V(repeating: 7.905_311_107_635_498), where: c .> 7.905_311_107_635_498)
    c.replace(with: V(repeating: -7.905_311_107_635_498), where: c .< -7.905_311_107_635_498)
    let x2 = c * c
    var p = V(repeating: -2.760_768_477_423_55e-16)
    p = p * x2 + 2.000_187_904_824_77e-13
    p = p * x2 + -8.604_671_522_137_35e-11
    p = p * x2 + 5.122_297_090_371_14e-08
    p = p * x2 + 1.485_722_357_179_79e-05
    p = p * x2 + 6.372_619_288_754_36e-04
    p = p * x2 + 4.893_524_558_917_86e-03
    p = p * c
    var q = V(repeating: 1.198_258_394_667_02e-06)
    q = q * x2 + 1.185_347_056_866_54e-04
    q = q * x2 + 2.268_434_632_439_00e-03
    q = q * x2 + 4.893_525_185_543_85e-03
    var y = p / q
    y.replace(with: x, where: abs(x) .< 0.0004)
    return y
  }

  @inline(__always) static func abs(_ x: V) -> V {
    unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: V.self)
  }

  @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
  }

  @inline(__always) static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
  }

  /// Applies `activation` in place to `count` values.
  static func apply(_ activation: Activation, _ x: UnsafeMutablePointer<Float>, count: Int) {
    switch activation {
    case .sigmoid: sigmoid(x, count: count)
    case .tanh: tanh(x, count: count)
    default: activation.apply(x, rows: 1, width: count)
    }
  }

  static func sigmoid(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
      store(sigmoid(load(x + i)), x + i)
      i += 8
    }
    while i < count {
      x[i] = 1 / (1 + Foundation.exp(-x[i]))
      i += 1
    }
  }

  static func tanh(_ x: UnsafeMutablePointer<Float>, count: Int) {
    var i = 0
    while i + 8 <= count {
      store(tanh(load(x + i)), x + i)
      i += 8
    }
    while i < count {
      x[i] = Foundation.tanh(x[i])
      i += 1
    }
  }

  /// The derivative of `activation` at the points whose outputs are `y`.
  @inline(__always) static func derivative(_ activation: Activation, _ y: V) -> V {
    switch activation {
    case .sigmoid: return y * (1 - y)
    case .tanh: return 1 - y * y
    case .relu: return V(repeating: 0).replacing(with: 1, where: y .> 0)
    case .elu: return (y + 1).replacing(with: 1, where: y .> 0)
    default: return V(repeating: 1)
    }
  }

  /// The derivative of `activation` at the point whose output is `y`.
  @inline(__always) static func derivative(_ activation: Activation, output y: Float) -> Float {
    switch activation {
    case .sigmoid: return y * (1 - y)
    case .tanh: return 1 - y * y
    case .relu: return y > 0 ? 1 : 0
    case .elu: return y > 0 ? 1 : y + 1
    default: return 1
    }
  }
}
