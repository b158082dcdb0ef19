import DLP
import Foundation

/// This process's children (local workers, benchmark ranks): starting them, describing an
/// exit without reaping it (so it can be described again), stopping and reaping them, and the
/// table the SIGINT/SIGTERM/SIGHUP handler kills them from before this process exits (the
/// handler may only make async-signal-safe calls, hence a fixed C buffer).
public enum ChildProcesses {
  private static let capacity = 256
  nonisolated(unsafe) private static let slots: UnsafeMutablePointer<pid_t> = {
    let p = UnsafeMutablePointer<pid_t>.allocate(capacity: capacity)
    p.initialize(repeating: 0, count: capacity)
    return p
  }()
  private static let lock = NSLock()
  nonisolated(unsafe) private static var handlersInstalled = false

  /// Starts `executable` with `arguments` (the environment is ours plus `environment`) and
  /// registers it for the signal handler.
  public static func spawn(_ executable: String, _ arguments: [String], environment: [String: String] = [:]) throws
    -> pid_t
  {
    var env = ProcessInfo.processInfo.environment
    for (k, v) in environment { env[k] = v }
    var cargs = ([executable] + arguments).map { strdup($0) } + [nil]
    var cenv = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
      for a in cargs { free(a) }
      for e in cenv { free(e) }
    }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, executable, nil, nil, &cargs, &cenv)
    guard rc == 0 else { throw DLPError.io("cannot start \(executable): \(String(cString: strerror(rc)))") }
    register(pid)
    return pid
  }

  /// How `pid` ended ("exited with status 1", "was killed by signal 9"), or nil while it runs.
  /// The child is not reaped, so a second look says the same.
  public static func exitDescription(_ pid: pid_t) -> String? {
    var info = siginfo_t()
    guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
      info._sifields._sigchld.si_pid == pid
    else { return nil }
    // On Linux si_status is the exit status or the signal number, by si_code.
    let status = info._sifields._sigchld.si_status
    return info.si_code == CLD_EXITED ? "exited with status \(status)" : "was killed by signal \(status)"
  }

  /// Waits up to `grace` seconds for `pids` to exit, kills the rest, reaps them all and drops
  /// them from the table.
  public static func stop(_ pids: [pid_t], grace: Double) {
    let deadline = Date().addingTimeInterval(grace)
    var alive = Set(pids)
    while !alive.isEmpty && Date() < deadline {
      for p in alive where waitpid(p, nil, WNOHANG) == p { alive.remove(p) }
      if !alive.isEmpty { usleep(10_000) }
    }
    for p in alive {
      Glibc.kill(p, SIGKILL)
      while waitpid(p, nil, 0) < 0 && errno == EINTR {}
    }
    for p in pids { unregister(p) }
  }

  /// Kills `pid` at once and reaps it.
  public static func terminate(_ pid: pid_t) { stop([pid], grace: 0) }

  static func register(_ pid: pid_t) {
    lock.lock()
    defer { lock.unlock() }
    installHandlers()
    for i in 0..<capacity where slots[i] == 0 {
      slots[i] = pid
      return
    }
  }

  static func unregister(_ pid: pid_t) {
    lock.lock()
    defer { lock.unlock() }
    for i in 0..<capacity where slots[i] == pid { slots[i] = 0 }
  }

  private static func installHandlers() {
    guard !handlersInstalled else { return }
    handlersInstalled = true
    _ = slots
    let handler: @convention(c) (Int32) -> Void = { sig in
      for i in 0..<ChildProcesses.capacity where ChildProcesses.slots[i] > 0 {
        Glibc.kill(ChildProcesses.slots[i], SIGKILL)
      }
      _exit(128 + sig)
    }
    signal(SIGINT, handler)
    signal(SIGTERM, handler)
    signal(SIGHUP, handler)
  }
}
