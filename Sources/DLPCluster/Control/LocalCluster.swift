import DLP
import Foundation

/// `--workers N` on one machine: starts N `dlp-worker` processes connected to a local
/// coordinator, reports the ones that exit, restarts them when asked (up to `maxRestarts` in
/// all, as torchrun does), and makes sure none outlives the job (normal end, error, or Ctrl-C).
public final class LocalCluster: @unchecked Sendable {
  /// One worker process: its identity (what it says in its Hello) and pid.
  public struct Child: Sendable {
    public let workerID: String
    public let pid: pid_t
  }

  private let lock = NSLock()
  private let executable: String
  private let arguments: [String]
  private let environment: [String: String]
  private var children: [Child] = []
  private var reported: Set<pid_t> = []
  private var replaced: Set<pid_t> = []
  private var finished = false
  /// Restarts made so far, and the most allowed.
  public private(set) var restarts = 0
  public let maxRestarts: Int

  /// The `dlp-worker` beside the running executable, or `$DLP_WORKER_BIN`.
  public static func workerExecutable() throws -> String {
    if let p = ProcessInfo.processInfo.environment["DLP_WORKER_BIN"] { return p }
    let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
    let path = URL(fileURLWithPath: exe).deletingLastPathComponent().appendingPathComponent("dlp-worker").path
    guard FileManager.default.isExecutableFile(atPath: path) else {
      throw DLPError.config("cannot find the dlp-worker executable at \(path) (build it: swift build -c release --product dlp-worker)")
    }
    return path
  }

  /// Starts `workers` workers. `arguments` are passed to every worker after its own
  /// (`--connect`, `--threads`, `--worker-id`, `--exit-with-parent`); `environment` is added
  /// to ours.
  public init(
    workers: Int, connect: String, threads: Int, maxRestarts: Int = 0, arguments: [String] = [],
    environment: [String: String] = [:]
  ) throws {
    executable = try Self.workerExecutable()
    self.arguments = ["--connect", connect, "--threads", String(threads), "--exit-with-parent"] + arguments
    self.environment = environment
    self.maxRestarts = maxRestarts
    do {
      for i in 0..<workers { try start(id: "local-\(i)-\(getpid())") }
    } catch {
      finish(grace: 0)
      throw error
    }
  }

  private func start(id: String) throws {
    let pid = try ChildProcesses.spawn(executable, arguments + ["--worker-id", id], environment: environment)
    lock.lock()
    children.append(Child(workerID: id, pid: pid))
    lock.unlock()
  }

  public var pids: [pid_t] {
    lock.lock()
    defer { lock.unlock() }
    return children.map(\.pid)
  }

  /// The workers that exited since the last call, each described once (not reaped until
  /// `finish`, so their pids stay theirs).
  public func takeExits() -> [(child: Child, description: String)] {
    lock.lock()
    defer { lock.unlock() }
    if finished { return [] }
    var out: [(Child, String)] = []
    for c in children where !reported.contains(c.pid) {
      if let how = ChildProcesses.exitDescription(c.pid) {
        reported.insert(c.pid)
        out.append((c, "worker \(c.workerID) (pid \(c.pid)) \(how)"))
      }
    }
    return out
  }

  /// A description of the first worker that has exited, if any (does not reap it).
  public func deadWorker() -> String? {
    lock.lock()
    defer { lock.unlock() }
    if finished { return nil }
    for (i, c) in children.enumerated() {
      if let how = ChildProcesses.exitDescription(c.pid) { return "worker \(i) (pid \(c.pid)) \(how)" }
    }
    return nil
  }

  /// The running (or exited, not yet replaced) worker with this id.
  public func takeChild(workerID: String) -> Child? {
    lock.lock()
    defer { lock.unlock() }
    guard let k = children.firstIndex(where: { $0.workerID == workerID && !replaced.contains($0.pid) }) else { return nil }
    replaced.insert(children[k].pid)
    return children[k]
  }

  /// Starts a replacement for a worker that exited; false once `maxRestarts` are used up.
  public func restart(replacing child: Child) throws -> Bool {
    lock.lock()
    guard !finished, restarts < maxRestarts else {
      lock.unlock()
      return false
    }
    restarts += 1
    let n = restarts
    lock.unlock()
    try start(id: "\(child.workerID)-r\(n)")
    return true
  }

  /// Waits up to `grace` seconds for the workers to exit after a shutdown, then kills the rest.
  public func finish(grace: Double = 3) {
    lock.lock()
    finished = true
    let all = children.map(\.pid)
    lock.unlock()
    ChildProcesses.stop(all, grace: grace)
  }

  /// How the worker process `pid` ended, if it is one of ours and has exited (not reaped).
  func exitDescription(pid: pid_t) -> String? {
    guard pids.contains(pid) else { return nil }
    return ChildProcesses.exitDescription(pid)
  }
}
