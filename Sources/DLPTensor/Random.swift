import Foundation

/// Seeded randomness. Two kinds:
/// - `SeededGenerator`: a sequential stream (SplitMix64) for initialisers and permutations.
/// - `KeyedRandom`: a counter-based hash of (seed, keys...), so that randomness touching a sample
///   (dropout masks) depends on the sample's identity, never on which worker or batch slot saw it.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
  private var state: UInt64

  public init(seed: UInt64) { state = seed }

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    return KeyedRandom.mix(state)
  }

  /// Uniform in [0, 1) with 24 random bits.
  public mutating func nextUniform() -> Float { Float(next() >> 40) * 0x1p-24 }

  /// Standard normal (Box-Muller).
  public mutating func nextNormal() -> Float {
    let u1 = Double(next() >> 11) * 0x1p-53
    let u2 = Double(next() >> 11) * 0x1p-53
    return Float((-2 * _log(max(u1, 1e-300))).squareRoot() * _cos(2 * Double.pi * u2))
  }

  /// A permutation of 0..<n (Fisher-Yates).
  public mutating func permutation(_ n: Int) -> [Int] {
    var p = Array(0..<n)
    if n > 1 {
      for i in stride(from: n - 1, to: 0, by: -1) {
        let j = Int(next() % UInt64(i + 1))
        p.swapAt(i, j)
      }
    }
    return p
  }
}

public enum KeyedRandom {
  /// SplitMix64's finaliser: a bijective 64-bit mix.
  @inline(__always)
  public static func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A 64-bit key from a seed and a list of integers (epoch, sample index, layer, ...).
  @inline(__always)
  public static func key(_ seed: UInt64, _ parts: UInt64...) -> UInt64 {
    var k = mix(seed &+ 0x632B_E59B_D9B4_E019)
    for p in parts { k = mix(k ^ (p &+ 0x9E37_79B9_7F4A_7C15)) }
    return k
  }

  /// Uniform in [0, 1) for element `counter` of stream `key`.
  @inline(__always)
  public static func uniform(_ key: UInt64, _ counter: UInt64) -> Float {
    Float(mix(key &+ counter &* 0x9E37_79B9_7F4A_7C15) >> 40) * 0x1p-24
  }
}

@inline(__always) func _log(_ x: Double) -> Double { Foundation.log(x) }
@inline(__always) func _cos(_ x: Double) -> Double { Foundation.cos(x) }
