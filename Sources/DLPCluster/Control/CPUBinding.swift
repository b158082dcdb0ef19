import CProcess
import DLP
import Foundation

/// Binds the processes of one host's ranks to CPUs of their own, as `mpirun` does by default
/// (`--bind-to core` for 2 ranks): with the Linux scheduler free to move them, a rank that
/// wakes its peer (data arrived) often pulls the peer onto its own CPU, and two busy ranks
/// then share one core while the other idles. On 2 ranks of a 2-vCPU machine the stream ring's
/// 4 MiB all-reduce ran 0.8-0.9 ms bound against 0.9 ms or 2.3-2.7 ms unbound, flipping from
/// run to run (`dlp bench allreduce --workers 2 --bytes 4MiB --transport tcp`, 4 rounds).
public enum CPUBinding {
  /// The CPUs slot `slot` of `slots` processes of `threads` threads each gets from `allowed`:
  /// consecutive runs of `threads` CPUs, nil when they do not all fit (oversubscribed: every
  /// process keeps every CPU, as mpirun binds to none then).
  public static func plan(slot: Int, slots: Int, threads: Int, allowed: [Int]) -> [Int]? {
    guard slots >= 1, threads >= 1, slot >= 0, slot < slots, slots * threads <= allowed.count else {
      return nil
    }
    return Array(allowed[(slot * threads)..<((slot + 1) * threads)])
  }

  /// The CPUs this process may run on now.
  public static func allowedCPUs() -> [Int] {
    var cpus = [Int32](repeating: 0, count: 4096)
    let n = dlp_allowed_cpus(&cpus, Int32(cpus.count))
    guard n > 0 else { return [] }
    return cpus[0..<Int(n)].map(Int.init)
  }

  /// Restricts every thread of this process to `cpus`.
  public static func bind(_ cpus: [Int]) throws {
    let list = cpus.map(Int32.init)
    guard !list.isEmpty, dlp_bind_process(list, Int32(list.count)) == 0 else {
      throw DLPError.config(
        "cannot bind this process to CPUs \(cpus): \(String(cString: strerror(errno)))")
    }
  }
}
