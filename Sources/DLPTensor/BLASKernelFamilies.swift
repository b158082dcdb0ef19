/// OpenBLAS's x86-64 kernel families (the names `OPENBLAS_CORETYPE` takes and
/// `openblas_get_corename` gives), ranked by the widest instructions their kernels use: the
/// decision table `BLASKernelChoice` reads.
///
/// The names are those of OpenBLAS 0.3.21's DYNAMIC_ARCH build (driver/others/dynamic.c,
/// `corename[]`), which Debian 12 ships; newer releases add families (SapphireRapids), which
/// are ranked here as the widest so that DLP never replaces them. Two quirks of 0.3.21 matter:
/// its Xeon model table falls through to Prescott for family 6 models it does not list (Emerald
/// Rapids, model 207: the bug this table exists for), and `OPENBLAS_CORETYPE=Cooperlake` is one
/// past the end of the names it matches, so it falls back to OpenBLAS's pick by CPU features,
/// which is Cooperlake on a CPU with AVX512-BF16 (SkylakeX without): either way the kernels
/// asked for, which the re-executed process checks (`openblas_get_corename`).
public enum BLASKernelFamilies {
  /// The instruction set a family's kernels need, narrowest first.
  public enum Tier: Int, Comparable, Sendable, CustomStringConvertible {
    /// SSE2/SSE3 and older (Prescott, Core2, Nehalem, Atom, Barcelona...): any x86-64.
    case sse = 1
    /// AVX without AVX2 (Sandybridge; AMD's Bulldozer line, which needs FMA4 too).
    case avx = 2
    /// AVX2 and FMA3 (Haswell, Zen).
    case avx2 = 3
    /// AVX-512 F/BW/VL/DQ (SkylakeX).
    case avx512 = 4
    /// AVX-512 with BF16 (Cooperlake) and anything newer.
    case avx512bf16 = 5

    public static func < (a: Tier, b: Tier) -> Bool { a.rawValue < b.rawValue }

    public var description: String {
      switch self {
      case .sse: return "SSE"
      case .avx: return "AVX"
      case .avx2: return "AVX2"
      case .avx512: return "AVX-512"
      case .avx512bf16: return "AVX-512 with BF16"
      }
    }
  }

  /// The tier of every x86-64 family OpenBLAS 0.3.21 knows, by lowercased name.
  static let tiers: [String: Tier] = {
    var t: [String: Tier] = [:]
    for name in [
      "katmai", "coppermine", "northwood", "prescott", "banias", "atom", "core2", "penryn", "dunnington",
      "nehalem", "athlon", "opteron", "opteron_sse3", "barcelona", "nano", "bobcat",
    ] { t[name] = .sse }
    for name in ["sandybridge", "bulldozer", "piledriver", "steamroller", "excavator"] { t[name] = .avx }
    for name in ["haswell", "zen"] { t[name] = .avx2 }
    t["skylakex"] = .avx512
    for name in ["cooperlake", "sapphirerapids"] { t[name] = .avx512bf16 }
    return t
  }()

  /// The tier of `family`'s kernels; nil for a name this table does not know (another
  /// architecture's, or a newer release's), which DLP then leaves alone.
  public static func tier(of family: String) -> Tier? { tiers[family.lowercased()] }

  /// The widest tier whose kernels this CPU runs with its OS (nil off x86-64).
  public static func widestTier(_ cpu: CPUFeatures) -> Tier? {
    guard cpu.contains(.x86_64) else { return nil }
    if cpu.isSuperset(of: CPUFeatures.avx512Kernels.union(.avx2Kernels)) {
      return cpu.contains(.avx512bf16) ? .avx512bf16 : .avx512
    }
    if cpu.isSuperset(of: .avx2Kernels) { return .avx2 }
    if cpu.isSuperset(of: [.avx, .osAVX]) { return .avx }
    return .sse
  }

  /// The families this CPU runs, widest first: the decision table. Only families whose kernels
  /// need nothing vendor-specific are listed (the Bulldozer line needs AMD's FMA4); within the
  /// AVX2 tier an AMD processor prefers Zen, others Haswell, as OpenBLAS itself picks.
  public static func preference(_ cpu: CPUFeatures) -> [String] {
    guard let widest = widestTier(cpu) else { return [] }
    var out: [String] = []
    if widest >= .avx512bf16 { out.append("Cooperlake") }
    if widest >= .avx512 { out.append("SkylakeX") }
    if widest >= .avx2 { out += cpu.contains(.amd) ? ["Zen", "Haswell"] : ["Haswell", "Zen"] }
    if widest >= .avx { out.append("Sandybridge") }
    if cpu.isSuperset(of: [.sse3, .ssse3, .sse41, .sse42]) { out.append("Nehalem") }
    if cpu.isSuperset(of: [.sse3, .ssse3]) { out.append("Core2") }
    out.append("Prescott")
    return out
  }

  /// What the CPU and OS report that puts it in its widest tier, for logs and reports.
  public static func evidence(_ cpu: CPUFeatures) -> String {
    switch widestTier(cpu) {
    case .avx512bf16?: return "CPUID: AVX-512 F/BW/VL/DQ and BF16, XCR0: opmask and ZMM state enabled"
    case .avx512?: return "CPUID: AVX-512 F/BW/VL/DQ, XCR0: opmask and ZMM state enabled"
    case .avx2?: return "CPUID: AVX2 and FMA, XCR0: YMM state enabled"
    case .avx?: return "CPUID: AVX, XCR0: YMM state enabled"
    case .sse?: return "no AVX the OS enables"
    case nil: return "not x86-64"
    }
  }
}
