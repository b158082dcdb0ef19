import DLP
import Foundation

/// `--workers N` on one machine: starts N `dlp-worker` processes connected to a local
/// coordinator, notices when one dies, and makes sure none outlives the job (normal end,
/// error, or Ctrl-C).
public final class LocalCluster: @unchecked Sendable {
  public let pids: [pid_t]
  private let lock = NSLock()
  private var finished = false

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

  public init(workers: Int, connect: String, threads: Int) throws {
    let exe = try Self.workerExecutable()
    var pids: [pid_t] = []
    for i in 0..<workers {
      let args = [exe, "--connect", connect, "--threads", String(threads), "--worker-id", "local-\(i)-\(getpid())", "--exit-with-parent"]
      var cargs = args.map { strdup($0) } + [nil]
      defer { for a in cargs { free(a) } }
      var pid: pid_t = 0
      let rc = posix_spawn(&pid, exe, nil, nil, &cargs, environ)
      guard rc == 0 else {
        for p in pids { kill(p, SIGKILL) }
        throw DLPError.io("cannot start \(exe): \(String(cString: strerror(rc)))")
      }
      pids.append(pid)
    }
    self.pids = pids
    ChildProcesses.register(pids)
  }

  /// A description of the first worker that has exited, if any (does not reap it).
  public func deadWorker() -> String? {
    lock.lock()
    defer { lock.unlock() }
    if finished { return nil }
    for (i, pid) in pids.enumerated() {
      var info = siginfo_t()
      guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0, info._sifields._sigchld.si_pid == pid else { continue }
      // On Linux si_status is the exit status or the signal number, by si_code.
      let status = info._sifields._sigchld.si_status
      let how = info.si_code == CLD_EXITED ? "exited with status \(status)" : "was killed by signal \(status)"
      return "worker \(i) (pid \(pid)) \(how)"
    }
    return nil
  }

  /// Waits up to `grace` seconds for the workers to exit after a shutdown, then kills the rest.
  public func finish(grace: Double = 3) {
    lock.lock()
    finished = true
    lock.unlock()
    let deadline = Date().addingTimeInterval(grace)
    var alive = Set(pids)
    while !alive.isEmpty && Date() < deadline {
      for p in alive where waitpid(p, nil, WNOHANG) == p { alive.remove(p) }
      if !alive.isEmpty { usleep(20_000) }
    }
    for p in alive {
      kill(p, SIGKILL)
      waitpid(p, nil, 0)
    }
    ChildProcesses.clear()
  }
}

/// Child pids in a fixed C buffer, so the SIGINT/SIGTERM handler (which may only make
/// async-signal-safe calls) can kill them before the process exits.
enum ChildProcesses {
  nonisolated(unsafe) static let slots: UnsafeMutablePointer<pid_t> = {
    let p = UnsafeMutablePointer<pid_t>.allocate(capacity: 256)
    p.initialize(repeating: 0, count: 256)
    return p
  }()

  static func register(_ pids: [pid_t]) {
    for (i, p) in pids.prefix(256).enumerated() { slots[i] = p }
    installHandlers()
  }

  static func clear() { for i in 0..<256 { slots[i] = 0 } }

  static func installHandlers() {
    _ = slots
    let handler: @convention(c) (Int32) -> Void = { sig in
      for i in 0..<256 where ChildProcesses.slots[i] > 0 { kill(ChildProcesses.slots[i], SIGKILL) }
      _exit(128 + sig)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGHUP, handler)
  }
}
