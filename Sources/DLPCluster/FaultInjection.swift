import Foundation

/// Failures on purpose, for the tests that check DLP survives them: `DLP_FAULT_INJECT` holds
/// `WHO:EVENT:N` entries separated by `;`, and the process they name kills itself with SIGKILL
/// (no clean-up, as a crash or `kill -9` would) when the event happens:
///
/// - `WORKER-ID-PREFIX:train-step:N`: a worker whose id starts with the prefix, on receiving
///   the training step that has N steps before it. A restarted worker (id ending `-rK`) never
///   does, so a replacement is not killed again.
/// - `WORKER-ID-PREFIX:task:N`: a K-fold worker, on receiving its N-th task (before running it).
/// - `coordinator:checkpoint:N`: the process running the fit, after writing its N-th
///   checkpoint.
///
/// Tests order events with these instead of sleeping and hoping a kill lands mid-epoch.
public enum FaultInjection {
  struct Fault {
    let who: String
    let event: String
    let n: UInt64
  }

  static let faults: [Fault] = {
    guard let spec = ProcessInfo.processInfo.environment["DLP_FAULT_INJECT"] else { return [] }
    return spec.split(separator: ";").compactMap { entry in
      let parts = entry.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 3, let n = UInt64(parts[2]) else { return nil }
      return Fault(who: parts[0], event: parts[1], n: n)
    }
  }()

  static func fire(_ why: String) -> Never {
    FileHandle.standardError.write(Data("dlp: fault injected: \(why)\n".utf8))
    kill(getpid(), SIGKILL)
    _exit(137)
  }

  /// A worker is about to run the training step with `trainStep` steps before it.
  static func trainStep(_ trainStep: UInt64, worker id: String) {
    guard !faults.isEmpty, id.range(of: #"-r[0-9]+$"#, options: .regularExpression) == nil else { return }
    for f in faults where f.event == "train-step" && f.n == trainStep && id.hasPrefix(f.who) {
      fire("\(id) at training step \(trainStep)")
    }
  }

  /// A K-fold worker was assigned its `count`-th task.
  static func task(_ count: Int, worker id: String) {
    guard !faults.isEmpty, id.range(of: #"-r[0-9]+$"#, options: .regularExpression) == nil else { return }
    for f in faults where f.event == "task" && f.n == UInt64(count) && id.hasPrefix(f.who) {
      fire("\(id) at its task \(count)")
    }
  }

  /// The fit wrote its `count`-th checkpoint.
  public static func checkpointWritten(_ count: Int) {
    for f in faults where f.who == "coordinator" && f.event == "checkpoint" && f.n == UInt64(count) {
      fire("after checkpoint \(count)")
    }
  }
}
