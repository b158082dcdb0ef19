import Foundation

/// What two processes must share to all-reduce through POSIX shared memory: the running kernel
/// (its boot id), the `/dev/shm` file system (device and inode: containers on one kernel each
/// get their own), the network namespace (workers in separate namespaces stand for separate
/// hosts, and are tested as such) and the user (segments are created mode 0600).
///
/// Workers put this in their Hello; the coordinator picks the shared-memory collective only
/// when every worker reports the same, non-empty identity.
public enum HostIdentity {
  /// This process's identity, or "" when any part of it cannot be read (then shared memory is
  /// never chosen automatically).
  public static let current: String = compute()

  static func compute() -> String {
    guard
      let boot = try? String(contentsOfFile: "/proc/sys/kernel/random/boot_id", encoding: .utf8)
        .trimmingCharacters(in: .whitespacesAndNewlines), !boot.isEmpty
    else { return "" }
    var shm = stat()
    guard stat("/dev/shm", &shm) == 0 else { return "" }
    var net = stat()
    let netns = stat("/proc/self/ns/net", &net) == 0 ? "\(net.st_ino)" : "-"
    return "\(boot)/shm:\(shm.st_dev):\(shm.st_ino)/net:\(netns)/uid:\(getuid())"
  }
}
