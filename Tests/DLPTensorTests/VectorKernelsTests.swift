import CKernels
import XCTest

@testable import DLPTensor

/// Every build of the optimizer kernels this CPU can run gives the bits of the plain Swift
/// loops (the reference DLP matched Keras-JAX with), tails included.
final class VectorKernelsTests: XCTestCase {
  /// Levels this machine can execute, the baseline first.
  var runnable: [VectorKernels.Level] {
    [.baseline, .avx2, .avx512].filter { $0.rawValue <= VectorKernels.current.rawValue }
  }

  /// Gradients and state of every magnitude an update meets, zeros included.
  func sample(_ n: Int, seed: UInt64) -> [Float] {
    var rng = SplitMix(seed)
    return (0..<n).map { i in
      if i % 17 == 0 { return 0 }
      let scale = Float([1e-6, 1e-3, 1, 30][Int(rng.next() % 4)])
      return (Float(rng.next() % 2_000_001) / 1_000_000 - 1) * scale
    }
  }

  func testRMSpropEveryLevelMatchesTheReference() {
    for n in [1, 7, 16, 33, 1000, 65_539] {
      let g = sample(n, seed: 1)
      let w0 = sample(n, seed: 2)
      let v0 = sample(n, seed: 3).map { $0 * $0 }
      let (rho, lr, eps): (Float, Float, Float) = (0.9, 0.001, 1e-7)
      var wRef = w0
      var vRef = v0
      for i in 0..<n {
        let vi = rho * vRef[i] + (1 - rho) * g[i] * g[i]
        vRef[i] = vi
        wRef[i] -= lr * g[i] / (vi + eps).squareRoot()
      }
      for level in runnable {
        var w = w0
        var v = v0
        dlp_rmsprop_update(level.rawValue, &w, g, &v, n, rho, 1 - rho, lr, eps)
        XCTAssertEqual(
          w.map(\.bitPattern), wRef.map(\.bitPattern), "RMSprop weights, \(level), n \(n)")
        XCTAssertEqual(
          v.map(\.bitPattern), vRef.map(\.bitPattern), "RMSprop slots, \(level), n \(n)")
      }
    }
  }

  func testAdamEveryLevelMatchesTheReference() {
    for n in [1, 9, 16, 31, 4097] {
      let g = sample(n, seed: 4)
      let w0 = sample(n, seed: 5)
      let m0 = sample(n, seed: 6)
      let v0 = sample(n, seed: 7).map { $0 * $0 }
      let (c1, c2, alpha, eps): (Float, Float, Float, Float) = (0.1, 0.001, 0.0003, 1e-7)
      var (wRef, mRef, vRef) = (w0, m0, v0)
      for i in 0..<n {
        let mi = mRef[i] + (g[i] - mRef[i]) * c1
        let vi = vRef[i] + (g[i] * g[i] - vRef[i]) * c2
        mRef[i] = mi
        vRef[i] = vi
        wRef[i] -= mi * alpha / (vi.squareRoot() + eps)
      }
      for level in runnable {
        var (w, m, v) = (w0, m0, v0)
        dlp_adam_update(level.rawValue, &w, g, &m, &v, n, c1, c2, alpha, eps)
        XCTAssertEqual(
          w.map(\.bitPattern), wRef.map(\.bitPattern), "Adam weights, \(level), n \(n)")
        XCTAssertEqual(m.map(\.bitPattern), mRef.map(\.bitPattern), "Adam m, \(level), n \(n)")
        XCTAssertEqual(v.map(\.bitPattern), vRef.map(\.bitPattern), "Adam v, \(level), n \(n)")
      }
    }
  }

  func testTheLevelFollowsTheCPUAndTheOS() {
    XCTAssertEqual(VectorKernels.level(for: []), .baseline)
    XCTAssertEqual(
      VectorKernels.level(for: [.avx, .avx2, .fma]), .baseline, "AVX state not saved by the OS")
    XCTAssertEqual(VectorKernels.level(for: CPUFeatures.avx2Kernels), .avx2)
    XCTAssertEqual(
      VectorKernels.level(for: CPUFeatures.avx2Kernels.union([.avx512f])), .avx2, "no ZMM state")
    XCTAssertEqual(
      VectorKernels.level(for: CPUFeatures.avx2Kernels.union(CPUFeatures.avx512Kernels)), .avx512)
  }
}

/// A small deterministic generator (SplitMix64) for test data.
private struct SplitMix {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}
