import CKernels

/// Which build of the element-wise kernels in `CKernels` this process runs: the widest
/// instruction set the CPU has and the OS enabled (AVX-512F, AVX2, else the baseline's SSE2).
/// Swift compiles DLP for the baseline only, where a square root and a division take four
/// floats at a time; the optimizer updates, memory-light but bound by those two, were a fifth
/// of an MLP step. Every level gives the same bits (no FMA contraction), so the choice changes
/// speed only.
public enum VectorKernels {
  public enum Level: Int32, Sendable, CustomStringConvertible {
    case baseline = 0
    case avx2 = 1
    case avx512 = 2

    public var description: String {
      switch self {
      case .baseline: return "baseline"
      case .avx2: return "avx2"
      case .avx512: return "avx512f"
      }
    }
  }

  /// The level for a CPU with `features` (the widest this build has).
  public static func level(for features: CPUFeatures) -> Level {
    let built = Level(rawValue: dlp_kernels_max_level()) ?? .baseline
    var picked = Level.baseline
    if features.isSuperset(of: [.avx512f, .osAVX512]) {
      picked = .avx512
    } else if features.isSuperset(of: [.avx, .avx2, .osAVX]) {
      picked = .avx2
    }
    return Level(rawValue: Swift.min(picked.rawValue, built.rawValue)) ?? .baseline
  }

  /// This process's.
  public static let current: Level = level(for: .current)
}
