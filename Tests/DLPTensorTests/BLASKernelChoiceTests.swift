import XCTest

@testable import DLPTensor

/// The kernel decision table on made-up CPUs and families (nothing here depends on the machine
/// the tests run on), and the sgemm self-test against broken gemms.
final class BLASKernelChoiceTests: XCTestCase {
  // CPUs as CPUID and XGETBV would describe them.
  static let sse: CPUFeatures = [.x86_64, .sse3, .ssse3, .sse41, .sse42]
  static let sandyBridge = sse.union([.avx, .osAVX])
  static let haswell = sandyBridge.union([.avx2, .fma])
  static let zen2 = haswell.union(.amd)
  static let skylakeX = haswell.union([.avx512f, .avx512bw, .avx512vl, .avx512dq, .osAVX512])
  /// Sapphire/Emerald Rapids (OpenBLAS 0.3.21 takes family 6 model 207 for a Prescott).
  static let emeraldRapids = skylakeX.union(.avx512bf16)
  static let zen4 = emeraldRapids.union(.amd)
  /// An AVX-512 CPU under an OS that does not save ZMM state (XCR0 bits 5-7 clear).
  static let avx512WithoutOS = haswell.union([.avx512f, .avx512bw, .avx512vl, .avx512dq, .avx512bf16])

  func decide(_ loaded: String, _ cpu: CPUFeatures, _ env: [String: String] = [:]) -> BLASKernelChoice.Decision {
    BLASKernelChoice.decide(environment: env, loaded: loaded, cpu: cpu)
  }

  func replacement(_ loaded: String, _ cpu: CPUFeatures, _ env: [String: String] = [:]) -> String? {
    if case .replace(let family, _) = decide(loaded, cpu, env) { return family }
    return nil
  }

  func testPreferenceListsWidestFirst() {
    typealias F = BLASKernelFamilies
    XCTAssertEqual(
      F.preference(Self.emeraldRapids),
      ["Cooperlake", "SkylakeX", "Haswell", "Zen", "Sandybridge", "Nehalem", "Core2", "Prescott"])
    XCTAssertEqual(F.preference(Self.zen4).prefix(4), ["Cooperlake", "SkylakeX", "Zen", "Haswell"])
    XCTAssertEqual(F.preference(Self.skylakeX).first, "SkylakeX")
    XCTAssertEqual(F.preference(Self.avx512WithoutOS).first, "Haswell", "AVX-512 the OS does not enable does not count")
    XCTAssertEqual(F.preference(Self.zen2).first, "Zen")
    XCTAssertEqual(F.preference(Self.sandyBridge).first, "Sandybridge")
    XCTAssertEqual(F.preference(Self.haswell.subtracting(.osAVX)).first, "Nehalem", "AVX needs the OS's YMM state")
    XCTAssertEqual(F.preference(Self.haswell.subtracting(.fma)).first, "Sandybridge", "Haswell's kernels are FMA3")
    XCTAssertEqual(F.preference([.x86_64]), ["Prescott"])
    XCTAssertEqual(F.preference([]), [], "not x86-64")
    XCTAssertEqual(F.widestTier(Self.zen4), .avx512bf16)
    XCTAssertEqual(F.tier(of: "SKYLAKEX"), .avx512)
    XCTAssertNil(F.tier(of: "ARMV8"))
  }

  func testNarrowerPicksAreReplacedByTheWidest() {
    // The bug: Emerald Rapids with OpenBLAS 0.3.21 gets Prescott.
    XCTAssertEqual(replacement("Prescott", Self.emeraldRapids), "Cooperlake")
    XCTAssertEqual(replacement("Haswell", Self.skylakeX), "SkylakeX")
    XCTAssertEqual(replacement("Prescott", Self.skylakeX), "SkylakeX")
    XCTAssertEqual(replacement("SkylakeX", Self.emeraldRapids), "Cooperlake")
    XCTAssertEqual(replacement("Core2", Self.zen2), "Zen")
    XCTAssertEqual(replacement("Nehalem", Self.haswell), "Haswell")
    XCTAssertEqual(replacement("Atom", Self.sandyBridge), "Sandybridge")
    XCTAssertEqual(replacement("Prescott", Self.avx512WithoutOS), "Haswell")
    XCTAssertEqual(replacement("Penryn", Self.zen4), "Cooperlake")
  }

  func testTheWidestAndUnknownFamiliesStay() {
    XCTAssertNil(replacement("Cooperlake", Self.zen4), "never downgraded")
    XCTAssertNil(replacement("Cooperlake", Self.emeraldRapids))
    XCTAssertNil(replacement("SapphireRapids", Self.emeraldRapids))
    XCTAssertNil(replacement("SkylakeX", Self.skylakeX))
    XCTAssertNil(replacement("Zen", Self.zen2))
    XCTAssertNil(replacement("Haswell", Self.zen2), "same tier: OpenBLAS's pick stands")
    XCTAssertNil(replacement("SkylakeX", Self.haswell), "wider than the CPU says: not ours to fix")
    XCTAssertNil(replacement("Prescott", Self.sse))
    XCTAssertNil(replacement("Nehalem", Self.sse))
    XCTAssertNil(replacement("ARMV8", Self.zen4), "a family this table does not rank")
    XCTAssertNil(replacement("Prescott", []), "not x86-64")
    guard case .keep(let why) = decide("Cooperlake", Self.zen4) else { return XCTFail() }
    XCTAssertTrue(why.contains("widest"), why)
  }

  func testTheMachinesCoreTypeIsGonePastAndSaidSo() {
    let env = ["OPENBLAS_CORETYPE": "Prescott"]
    guard case .replace(let family, let why) = decide("Prescott", Self.emeraldRapids, env) else { return XCTFail() }
    XCTAssertEqual(family, "Cooperlake")
    XCTAssertTrue(why.contains("OPENBLAS_CORETYPE=Prescott"), why)
    XCTAssertTrue(why.contains("AVX-512 F/BW/VL/DQ and BF16"), why)
  }

  func testUserChoiceWins() {
    XCTAssertNil(replacement("Prescott", Self.emeraldRapids, ["DLP_BLAS_CORETYPE": "keep"]))
    XCTAssertEqual(replacement("Cooperlake", Self.emeraldRapids, ["DLP_BLAS_CORETYPE": "Haswell"]), "Haswell")
    XCTAssertNil(replacement("Haswell", Self.emeraldRapids, ["DLP_BLAS_CORETYPE": "haswell"]))
    XCTAssertEqual(replacement("Haswell", Self.emeraldRapids, ["DLP_BLAS_CORETYPE": "auto"]), "Cooperlake")
    // A family the CPU cannot run is refused, not loaded (its kernels would trap).
    guard case .keep(let why) = decide("Haswell", Self.haswell, ["DLP_BLAS_CORETYPE": "SkylakeX"]) else {
      return XCTFail()
    }
    XCTAssertTrue(why.contains("does not run"), why)
    XCTAssertEqual(replacement("Haswell", Self.haswell, ["DLP_BLAS_CORETYPE": "SomeNewFamily"]), "SomeNewFamily")
  }

  func testVerificationNeedsWhatWasAskedAndAPassingSelfTest() {
    XCTAssertNil(BLASKernelChoice.verify(requested: "Cooperlake", ran: "Cooperlake", replaced: "Prescott") { nil })
    // OpenBLAS's own fallback for a name it does not match: wider, so it may stand.
    XCTAssertNil(BLASKernelChoice.verify(requested: "Cooperlake", ran: "SkylakeX", replaced: "Prescott") { nil })
    let notWider = BLASKernelChoice.verify(requested: "SkylakeX", ran: "Haswell", replaced: "Haswell") { nil }
    XCTAssertEqual(notWider, "OpenBLAS ran Haswell for OPENBLAS_CORETYPE=SkylakeX, no wider than Haswell")
    let failed = BLASKernelChoice.verify(requested: "SkylakeX", ran: "SkylakeX", replaced: "Prescott") { "NT 3x3x3" }
    XCTAssertEqual(failed, "SkylakeX failed the sgemm self-test (NT 3x3x3)")
    // An explicit narrower choice is what the user asked for.
    XCTAssertNil(BLASKernelChoice.verify(requested: "Haswell", ran: "Haswell", replaced: "Cooperlake") { nil })
  }

  func testSelfTestPassesOpenBLAS() {
    XCTAssertNil(BLASSelfTest.run())
    XCTAssertNil(BLASSelfTest.run(BLASKernelChoice.faulty(nil)))
  }

  func testSelfTestCatchesBrokenGemms() {
    let ok = BLASSelfTest.openBLAS
    // One element of a training-sized product off by 0.1 (rounding allows ~0.01 there).
    let nudged: BLASSelfTest.Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      ok(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      if m > 100 { c[(m / 2) * ldc + n / 2] += 0.1 }
    }
    // A kernel wrong in one transpose case only (its last row of C left at zero).
    let transposeBug: BLASSelfTest.Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      ok(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      if ta && !tb { for j in 0..<n { c[(m - 1) * ldc + j] = 0 } }
    }
    // One that overwrites C instead of accumulating into it.
    let noBeta: BLASSelfTest.Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, _, c, ldc in
      ok(ta, tb, m, n, k, alpha, a, lda, b, ldb, 0, c, ldc)
    }
    // One that writes past the columns of C (into the row stride's padding).
    let spill: BLASSelfTest.Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      ok(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
      c[n] = 0
    }
    let drop: BLASSelfTest.Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
      ok(ta, tb, m, n, k - 1, alpha, a, lda, b, ldb, beta, c, ldc)
    }
    for (name, gemm, expect) in [
      ("nudged", nudged, "NN 128x512x784"), ("transpose", transposeBug, "TN 7x13x5"), ("beta", noBeta, "33x17x67"),
      ("spill", spill, "outside"), ("last k", drop, "NN 7x13x5"),
      ("fault hook", BLASKernelChoice.faulty("wrong"), "NN 7x13x5"),
    ] {
      let failure = BLASSelfTest.run(gemm)
      XCTAssertNotNil(failure, name)
      XCTAssertTrue(failure?.contains(expect) ?? false, "\(name): \(failure ?? "")")
    }
  }

  func testLoadedKernelHasAName() {
    XCTAssertFalse(BLASKernelChoice.coreName.isEmpty)
    XCTAssertFalse(BLASKernelChoice.reason.isEmpty)
  }
}
