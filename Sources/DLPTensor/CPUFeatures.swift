import CBLAS

/// What this CPU can do and the OS has enabled, from CPUID and XGETBV (`dlp_cpu_features` in
/// the CBLAS shim). A value, so the kernel decision table can be tested with any CPU.
public struct CPUFeatures: OptionSet, Sendable, CustomStringConvertible {
  public let rawValue: UInt32
  public init(rawValue: UInt32) { self.rawValue = rawValue }

  private init(_ bit: Int) { rawValue = UInt32(truncatingIfNeeded: bit) }

  public static let sse3 = CPUFeatures(Int(DLP_CPU_SSE3.rawValue))
  public static let ssse3 = CPUFeatures(Int(DLP_CPU_SSSE3.rawValue))
  public static let sse41 = CPUFeatures(Int(DLP_CPU_SSE41.rawValue))
  public static let sse42 = CPUFeatures(Int(DLP_CPU_SSE42.rawValue))
  public static let avx = CPUFeatures(Int(DLP_CPU_AVX.rawValue))
  public static let fma = CPUFeatures(Int(DLP_CPU_FMA.rawValue))
  public static let avx2 = CPUFeatures(Int(DLP_CPU_AVX2.rawValue))
  public static let avx512f = CPUFeatures(Int(DLP_CPU_AVX512F.rawValue))
  public static let avx512dq = CPUFeatures(Int(DLP_CPU_AVX512DQ.rawValue))
  public static let avx512bw = CPUFeatures(Int(DLP_CPU_AVX512BW.rawValue))
  public static let avx512vl = CPUFeatures(Int(DLP_CPU_AVX512VL.rawValue))
  public static let avx512bf16 = CPUFeatures(Int(DLP_CPU_AVX512BF16.rawValue))
  /// The OS saves SSE and AVX (YMM) state (XCR0 bits 1 and 2).
  public static let osAVX = CPUFeatures(Int(DLP_CPU_OS_AVX.rawValue))
  /// The OS also saves the AVX-512 state (XCR0 bits 5, 6 and 7).
  public static let osAVX512 = CPUFeatures(Int(DLP_CPU_OS_AVX512.rawValue))
  /// An AMD (or Hygon) processor: OpenBLAS's Zen kernels are its AVX2 family.
  public static let amd = CPUFeatures(Int(DLP_CPU_AMD.rawValue))
  /// Built for x86-64 (elsewhere no bit is set and no kernels are replaced).
  public static let x86_64 = CPUFeatures(Int(DLP_CPU_X86_64.rawValue))

  /// What AVX-512 kernels need: F, BW, VL and DQ, with the OS saving ZMM and opmask state.
  public static let avx512Kernels: CPUFeatures = [.avx512f, .avx512bw, .avx512vl, .avx512dq, .osAVX512]
  /// What AVX2 kernels need (Haswell's are FMA3 too).
  public static let avx2Kernels: CPUFeatures = [.avx, .avx2, .fma, .osAVX]

  /// This machine's.
  public static var current: CPUFeatures { CPUFeatures(rawValue: UInt32(dlp_cpu_features())) }

  public var description: String {
    let names: [(CPUFeatures, String)] = [
      (.sse3, "sse3"), (.ssse3, "ssse3"), (.sse41, "sse4.1"), (.sse42, "sse4.2"), (.avx, "avx"), (.fma, "fma"),
      (.avx2, "avx2"), (.avx512f, "avx512f"), (.avx512dq, "avx512dq"), (.avx512bw, "avx512bw"),
      (.avx512vl, "avx512vl"), (.avx512bf16, "avx512bf16"), (.osAVX, "os-avx"), (.osAVX512, "os-avx512"),
      (.amd, "amd"), (.x86_64, "x86-64"),
    ]
    return names.filter { contains($0.0) }.map(\.1).joined(separator: " ")
  }
}
