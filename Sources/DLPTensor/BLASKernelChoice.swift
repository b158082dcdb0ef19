import CBLAS
import Foundation

/// Runs OpenBLAS's widest kernels for what the CPU can do, whatever family OpenBLAS (or the
/// machine's `OPENBLAS_CORETYPE`) picked.
///
/// OpenBLAS's DYNAMIC_ARCH build picks a kernel family from a table of CPU models; Debian 12's
/// 0.3.21 takes a Xeon of family 6 model 207 for a Prescott (SSE3) and trains 3x slower there
/// than with its AVX-512 kernels. The kernels are fixed when the library loads, before any Swift
/// code runs, so `dlp`, `dlp-coordinator` and `dlp-worker` call `reexecWithPreferredKernels()`
/// first thing: a process whose loaded family is narrower than the widest the CPU runs
/// (`BLASKernelFamilies`, from CPUID and XGETBV) sets `OPENBLAS_CORETYPE` and re-executes itself
/// (same pid, same arguments). The re-executed process checks that OpenBLAS ran what was asked
/// and that sgemm passes `BLASSelfTest` before keeping it; otherwise (a wrong result, or a crash
/// during the test) it re-executes once more with the previous choice restored and says why.
/// Children (local workers) inherit the outcome and decide nothing.
///
/// `DLP_BLAS_CORETYPE` decides: `auto` (the default, as above), `keep` (the loaded family
/// stands), or a family name for OpenBLAS (refused when the CPU cannot run it). One stderr line
/// says what was replaced, or what failed; reports carry `blas_core`, `blas_core_replaced` and
/// `blas_core_reason`.
public enum BLASKernelChoice {
  /// The kernel family OpenBLAS uses in this process.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// What to do with the loaded kernels.
  public enum Decision: Equatable, Sendable {
    case keep(reason: String)
    case replace(with: String, reason: String)
  }

  /// The decision table: the widest family `cpu` runs (`BLASKernelFamilies.preference`)
  /// replaces a narrower `loaded` one, unless `DLP_BLAS_CORETYPE` in `environment` says
  /// otherwise. Pure, so it can be tested with any CPU and any family.
  public static func decide(environment: [String: String], loaded: String, cpu: CPUFeatures) -> Decision {
    let wish = environment["DLP_BLAS_CORETYPE"] ?? "auto"
    let origin = environment["OPENBLAS_CORETYPE"].map { "OPENBLAS_CORETYPE=\($0) gives" } ?? "OpenBLAS picked"
    let widest = BLASKernelFamilies.widestTier(cpu)
    switch wish.lowercased() {
    case "keep", "":
      return .keep(reason: "DLP_BLAS_CORETYPE=keep: \(origin) \(loaded)")
    case "auto":
      guard let widest, let best = BLASKernelFamilies.preference(cpu).first else {
        return .keep(reason: "\(origin) \(loaded); DLP chooses kernels on x86-64 only")
      }
      guard let have = BLASKernelFamilies.tier(of: loaded) else {
        return .keep(reason: "\(origin) \(loaded), a family DLP does not rank")
      }
      guard have < widest else {
        return .keep(reason: "\(origin) \(loaded) (\(have)), the widest kind of kernels this CPU runs")
      }
      return .replace(
        with: best,
        reason:
          "\(origin) \(loaded) (\(have) kernels) on a CPU that runs \(widest) ones (\(BLASKernelFamilies.evidence(cpu)))"
      )
    default:
      if wish.lowercased() == loaded.lowercased() { return .keep(reason: "DLP_BLAS_CORETYPE=\(wish)") }
      if let need = BLASKernelFamilies.tier(of: wish), let widest, need > widest {
        return .keep(
          reason:
            "DLP_BLAS_CORETYPE=\(wish) needs \(need) kernels, which this CPU does not run (\(BLASKernelFamilies.evidence(cpu))); \(origin) \(loaded)"
        )
      }
      return .replace(with: wish, reason: "DLP_BLAS_CORETYPE=\(wish)")
    }
  }

  /// Whether kernels `ran` (asked for as `requested`) may stand in for `replaced`, by
  /// `selfTest`: nil when they may, else why not.
  public static func verify(
    requested: String, ran: String, replaced: String, selfTest: () -> String?
  ) -> String? {
    if let now = BLASKernelFamilies.tier(of: ran), let before = BLASKernelFamilies.tier(of: replaced),
      now <= before, requested.lowercased() != ran.lowercased()
    {
      return "OpenBLAS ran \(ran) for OPENBLAS_CORETYPE=\(requested), no wider than \(replaced)"
    }
    return selfTest().map { "\(ran) failed the sgemm self-test (\($0))" }
  }

  // MARK: the process

  /// Where a process tree stands (`DLP_BLAS_STATE`): unset in the first process; `verify` in the
  /// one re-executed with wider kernels; `failed` in the one re-executed back after they failed
  /// (it logs why); `verified` or `fallback` once settled (children inherit it and do nothing).
  static let stateVariable = "DLP_BLAS_STATE"
  /// The family the re-executed process replaced.
  static let replacedVariable = "DLP_BLAS_REPLACED_CORETYPE"
  /// Why the kernels are what they are, carried to the re-executed process and its children.
  static let reasonVariable = "DLP_BLAS_REASON"
  /// The machine's own `OPENBLAS_CORETYPE` ("set:VALUE", or "unset"), restored on a fallback.
  static let originalVariable = "DLP_BLAS_ORIGINAL_CORETYPE"
  /// For tests: `wrong` corrupts one product of the self-test, `crash` raises SIGILL in it.
  static let faultVariable = "DLP_BLAS_SELF_TEST_FAULT"

  static var environment: [String: String] { ProcessInfo.processInfo.environment }

  /// The kernel family this process replaced (nil when it kept the loaded one, or fell back).
  public static var replacedCore: String? {
    environment[stateVariable] == "verified" ? environment[replacedVariable] : nil
  }

  /// Why this process runs the kernels it runs.
  public static var reason: String {
    if let r = environment[reasonVariable] { return r }
    switch decide(environment: environment, loaded: coreName, cpu: .current) {
    case .keep(let r): return r
    case .replace(let family, let r): return "\(r); \(family) was not tried"
    }
  }

  /// Settles this process's kernels (see the type's documentation). Call first thing in `main`;
  /// returns in the process that runs on.
  public static func reexecWithPreferredKernels() {
    #if os(Linux)
      let env = environment
      switch env[stateVariable] {
      case "verified", "fallback":
        return
      case "verify":
        settleReexecuted(env)
      case "failed":
        log(env[reasonVariable] ?? "the wider kernels failed")
        setenv(stateVariable, "fallback", 1)
      default:
        guard case .replace(let family, let why) = decide(environment: env, loaded: coreName, cpu: .current) else {
          return
        }
        let original = env["OPENBLAS_CORETYPE"].map { "set:\($0)" } ?? "unset"
        exec(changing: [
          "OPENBLAS_CORETYPE": family, replacedVariable: coreName, reasonVariable: why, originalVariable: original,
          stateVariable: "verify",
        ])
      // Still here: the exec failed. Carry on with the loaded kernels.
      }
    #endif
  }

  #if os(Linux)
    /// In the re-executed process: keep the kernels if they are what was asked and pass the
    /// self-test, else go back to the previous ones.
    static func settleReexecuted(_ env: [String: String]) {
      let ran = coreName
      let replaced = env[replacedVariable] ?? "?"
      var back: [String: String?] = [
        replacedVariable: nil, originalVariable: nil, stateVariable: "failed",
        "OPENBLAS_CORETYPE": env[originalVariable].flatMap { $0.hasPrefix("set:") ? String($0.dropFirst(4)) : nil },
      ]
      back[reasonVariable] = "\(ran) crashed in the sgemm self-test; running \(replaced) again"
      // A crash in the test re-executes from the signal handler, with this environment.
      let crashEnvironment = environmentArray(changing: back)
      dlp_arm_crash_fallback(CommandLine.unsafeArgv, crashEnvironment)
      let failure = verify(requested: env["OPENBLAS_CORETYPE"] ?? "?", ran: ran, replaced: replaced) {
        BLASSelfTest.run(faulty(env[faultVariable]))
      }
      dlp_disarm_crash_fallback()
      guard let failure else {
        let asked =
          env["OPENBLAS_CORETYPE"].map { $0.lowercased() == ran.lowercased() ? "" : " (asked for \($0))" } ?? ""
        let why = (env[reasonVariable] ?? "") + "; \(ran)\(asked) passed the sgemm self-test"
        setenv(reasonVariable, why, 1)
        setenv(stateVariable, "verified", 1)
        log("OpenBLAS kernels \(ran) instead of \(replaced): \(why)")
        return
      }
      back[reasonVariable] = "\(failure); running \(replaced) again"
      exec(changing: back)
      log("\(failure), and re-executing with \(replaced) failed: stopping")
      exit(70)
    }

    /// Re-executes this program (same arguments) with `changes` to the environment (nil
    /// removes a variable); returns only if the exec failed.
    static func exec(changing changes: [String: String?]) {
      execve("/proc/self/exe", CommandLine.unsafeArgv, environmentArray(changing: changes))
    }

    /// This process's environment with `changes`, as the NULL-terminated C array execve takes
    /// (kept for the life of the process: the crash handler may need it at any moment).
    static func environmentArray(changing changes: [String: String?]) -> UnsafeMutablePointer<
      UnsafeMutablePointer<CChar>?
    > {
      var entries: [String] = []
      var p = environ
      while let entry = p.pointee {
        let text = String(cString: entry)
        let key = String(text.prefix { $0 != "=" })
        if changes[key] == nil { entries.append(text) }
        p += 1
      }
      for (key, value) in changes { if let value = value { entries.append("\(key)=\(value)") } }
      let array = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: entries.count + 1)
      for (i, e) in entries.enumerated() { array[i] = strdup(e) }
      array[entries.count] = nil
      return array
    }
  #endif

  /// The self-test's gemm, broken on purpose when a test asks (`DLP_BLAS_SELF_TEST_FAULT`).
  static func faulty(_ fault: String?) -> BLASSelfTest.Gemm {
    switch fault {
    case "wrong":
      return { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
        BLASSelfTest.openBLAS(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
        c[(m - 1) * ldc + n - 1] += 0.25
      }
    case "crash":
      return { _, _, _, _, _, _, _, _, _, _, _, _, _ in _ = raise(SIGILL) }
    default:
      return BLASSelfTest.openBLAS
    }
  }

  static func log(_ line: String) {
    let program = CommandLine.arguments.first.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "dlp"
    FileHandle.standardError.write(Data("\(program): \(line)\n".utf8))
  }
}
