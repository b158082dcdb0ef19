import CBLAS
import Foundation

/// Picks OpenBLAS's widest kernels on CPUs its build does not know.
///
/// Debian 12's OpenBLAS (0.3.21, DYNAMIC_ARCH) predates Sapphire Rapids: there it falls back to
/// its Haswell (AVX2) kernels, although the SkylakeX (AVX-512) ones run and are ~1.4x faster on
/// our sgemm shapes (MLP epochs: 31-36k -> 45-50k samples/s on this 2-vCPU machine). Machines
/// also often export `OPENBLAS_CORETYPE=Haswell` to make numbers comparable across a fleet. The
/// kernels are chosen when the library loads, before any Swift code runs, so a process that
/// finds AVX2 kernels on an AVX-512 CPU sets `OPENBLAS_CORETYPE` and re-executes itself (same
/// pid, same arguments; children inherit the variable).
///
/// `DLP_BLAS_CORETYPE` decides: `auto` (the default, as above), `keep` (OpenBLAS's choice, or
/// the machine's `OPENBLAS_CORETYPE`, stands), or a kernel name for OpenBLAS.
public enum BLASKernelChoice {
  /// The kernel family OpenBLAS uses in this process.
  public static var coreName: String { String(cString: openblas_get_corename()) }

  /// Set in the re-executed process: the kernel family it replaced.
  static let replacedVariable = "DLP_BLAS_REPLACED_CORETYPE"

  /// The kernel family this process replaced (nil when it kept OpenBLAS's choice).
  public static var replacedCore: String? { ProcessInfo.processInfo.environment[replacedVariable] }

  /// The OPENBLAS_CORETYPE this process should run with, or nil when the loaded kernels stand.
  public static func preferredCoreType(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    coreName: String = coreName, cpuRunsSkylakeX: Bool = dlp_cpu_runs_skylakex_kernels() != 0
  ) -> String? {
    let wish = environment["DLP_BLAS_CORETYPE"] ?? "auto"
    switch wish.lowercased() {
    case "keep", "":
      return nil
    case "auto":
      // Only the AVX2 families are upgraded; anything else OpenBLAS chose stays.
      guard ["haswell", "zen"].contains(coreName.lowercased()), cpuRunsSkylakeX else { return nil }
      return "SkylakeX"
    default:
      return wish.lowercased() == coreName.lowercased() ? nil : wish
    }
  }

  /// Re-executes this process with the preferred kernels when they are not the loaded ones;
  /// returns (doing nothing) otherwise, or if the re-exec fails. Call first thing in `main`.
  public static func reexecWithPreferredKernels() {
    #if os(Linux)
      let environment = ProcessInfo.processInfo.environment
      // Once per process tree: a re-executed process (or its child) does not try again, even
      // if OpenBLAS ignored an unknown name.
      guard environment[replacedVariable] == nil, let core = preferredCoreType() else { return }
      let previous = environment["OPENBLAS_CORETYPE"]
      setenv("OPENBLAS_CORETYPE", core, 1)
      setenv(replacedVariable, coreName, 1)
      execv("/proc/self/exe", CommandLine.unsafeArgv)
      // Still here: the exec failed. Carry on with the loaded kernels, and keep children the
      // same as this process.
      if let previous {
        setenv("OPENBLAS_CORETYPE", previous, 1)
      } else {
        unsetenv("OPENBLAS_CORETYPE")
      }
      unsetenv(replacedVariable)
    #endif
  }
}
