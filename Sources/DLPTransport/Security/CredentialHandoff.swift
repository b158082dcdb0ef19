import CZMQ
import DLPTensor
import Foundation

/// Ephemeral CURVE keys for a job whose workers this process starts itself (`dlp train
/// --workers N`, `dlp kfold --workers N`): no flag, no key file. The parent generates a key
/// pair for its coordinator and one per worker in memory, and hands each worker its pair and
/// the coordinator's public key through an anonymous pipe that becomes a file descriptor of
/// that child only (`--curve-keys-fd 3`).
///
/// Why a pipe: the secret then never touches a disk and is readable by exactly one process, once.
/// The alternatives are weaker. An environment variable is readable by the same user and root
/// through /proc/PID/environ (as a 0700 folder would be), but it is inherited by everything
/// the worker starts, shows in `ps e`, in core dumps and in tools that print the environment,
/// and stays there for the process's life. A key file in a 0700 temporary folder is private to
/// the user but lives on disk until removed, and a crash leaves it behind. Loopback TCP itself
/// is reachable by every local user, which is why local jobs need keys at all (ipc sockets in
/// a 0700 folder would also keep other users out, but not the ring's tcp transport).
public struct LocalCurveKeys: Sendable {
  /// The coordinator's security: its pair, admitting exactly the workers' keys.
  public let coordinator: SecurityOptions
  /// What each worker is handed, by worker index.
  public let workers: [CurveCredentials]

  /// Generates the coordinator's pair and `workers` worker pairs.
  public static func generate(workers: Int) throws -> LocalCurveKeys {
    let server = try CurveKeyPair.generate()
    var handoffs: [CurveCredentials] = []
    var authorized: [String: CurveKey] = [:]
    for i in 0..<workers {
      let pair = try CurveKeyPair.generate()
      authorized["local worker \(i)"] = pair.publicKey
      handoffs.append(CurveCredentials(keyPair: pair, serverKey: server.publicKey))
    }
    return LocalCurveKeys(
      coordinator: .curve(CurveCredentials(keyPair: server, authorizedKeys: authorized)),
      workers: handoffs)
  }

  public init(coordinator: SecurityOptions, workers: [CurveCredentials]) {
    self.coordinator = coordinator
    self.workers = workers
  }
}

/// The text a worker's credentials travel as: a version line, then `secret Z85` and
/// `server Z85` (the public key is derived from the secret).
public enum CredentialHandoff {
  static let magic = "DLP-CURVE-1"

  public static func encode(_ c: CurveCredentials) -> [UInt8] {
    var text = "\(magic)\nsecret \(c.keyPair.secretKey.z85)\n"
    if let s = c.serverKey { text += "server \(s.z85)\n" }
    return Array(text.utf8)
  }

  public static func decode(_ bytes: [UInt8]) throws -> CurveCredentials {
    let lines = String(decoding: bytes, as: UTF8.self).split(whereSeparator: \.isNewline).map(
      String.init)
    guard lines.first == magic else {
      throw DLPError.config(
        "the CURVE credentials handed to this worker are not in the \(magic) format")
    }
    var secret: CurveKey?
    var server: CurveKey?
    for line in lines.dropFirst() {
      let parts = line.split(separator: " ", maxSplits: 1).map(String.init)
      guard parts.count == 2 else { throw DLPError.config("malformed CURVE credentials line") }
      switch parts[0] {
      case "secret": secret = try CurveKey(z85: parts[1], what: "the handed secret key")
      case "server": server = try CurveKey(z85: parts[1], what: "the handed coordinator key")
      default: throw DLPError.config("unknown CURVE credentials field '\(parts[0])'")
      }
    }
    guard let secret else {
      throw DLPError.config("the CURVE credentials handed to this worker have no secret key")
    }
    return CurveCredentials(keyPair: try CurveKeyPair(secretKey: secret), serverKey: server)
  }

  /// Reads the credentials from file descriptor `fd` (the pipe `CredentialPipe` set up) to its
  /// end, then closes it.
  public static func read(fd: Int32) throws -> CurveCredentials {
    defer { close(fd) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 512)
    defer { for i in bytes.indices { bytes[i] = 0 } }
    while bytes.count <= 4096 {
      let n = chunk.withUnsafeMutableBytes { Foundation.read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else {
        throw DLPError.config(
          "cannot read the CURVE credentials from file descriptor \(fd): \(String(cString: strerror(errno)))"
        )
      }
      if n == 0 { break }
      bytes += chunk[0..<n]
    }
    for i in chunk.indices { chunk[i] = 0 }
    guard bytes.count <= 4096 else {
      throw DLPError.config("the CURVE credentials on file descriptor \(fd) are too long")
    }
    return try decode(bytes)
  }
}

/// An anonymous pipe whose read end becomes file descriptor `childFD` of one child started
/// with `posix_spawn`, and whose write end the parent fills and closes. Both ends are
/// close-on-exec in the parent, so no other child inherits them.
///
///     let pipe = try CredentialPipe()
///     var actions = posix_spawn_file_actions_t()
///     posix_spawn_file_actions_init(&actions)
///     defer { posix_spawn_file_actions_destroy(&actions) }
///     pipe.addToSpawn(&actions)                      // the child's fd 3 is the read end
///     posix_spawn(&pid, exe, &actions, nil, args + ["--curve-keys-fd", "3"], environ)
///     try pipe.send(CredentialHandoff.encode(keys.workers[i]))
public final class CredentialPipe {
  public static let defaultChildFD: Int32 = 3
  public let childFD: Int32
  private var readFD: Int32
  private var writeFD: Int32

  public init(childFD: Int32 = CredentialPipe.defaultChildFD) throws {
    self.childFD = childFD
    var fds: [Int32] = [0, 0]
    guard dlp_pipe_cloexec(&fds) == 0 else {
      throw DLPError.io(
        "cannot create a pipe for the worker's keys: \(String(cString: strerror(errno)))")
    }
    // Keep the read end away from childFD: dup2 onto the same number would leave it
    // close-on-exec in the child on older C libraries.
    let moved = fcntl(fds[0], F_DUPFD_CLOEXEC, max(childFD + 1, 10))
    close(fds[0])
    guard moved >= 0 else {
      close(fds[1])
      throw DLPError.io("cannot move the key pipe: \(String(cString: strerror(errno)))")
    }
    readFD = moved
    writeFD = fds[1]
  }

  deinit { closeAll() }

  /// Makes the child's `childFD` a copy of the read end (dup2 clears close-on-exec).
  public func addToSpawn(_ actions: inout posix_spawn_file_actions_t) {
    posix_spawn_file_actions_adddup2(&actions, readFD, childFD)
  }

  /// Writes `bytes` (a few hundred: less than the pipe's buffer, so this never blocks) and
  /// closes the parent's ends; the child reads them and then end-of-file.
  public func send(_ bytes: [UInt8]) throws {
    defer { closeAll() }
    var written = 0
    while written < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.write(writeFD, $0.baseAddress! + written, $0.count - written)
      }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        throw DLPError.io("cannot write the worker's keys: \(String(cString: strerror(errno)))")
      }
      written += n
    }
  }

  private func closeAll() {
    if readFD >= 0 { close(readFD) }
    if writeFD >= 0 { close(writeFD) }
    readFD = -1
    writeFD = -1
  }
}
