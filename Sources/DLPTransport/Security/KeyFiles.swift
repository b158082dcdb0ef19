import DLPTensor
import Foundation

/// CURVE key files, as `dlp keygen` writes them and every secured process reads them:
/// `NAME.key` holds the public key and `NAME.key_secret` the secret key, each as 40 Z85
/// characters and a newline. The secret file is created with mode 0600 (never wider, not even
/// for an instant) and refused, as OpenSSH refuses a private key, when group or others can
/// read it or it belongs to another user. An authorized-keys folder holds the `*.key` files of
/// the peers a server admits, like `~/.ssh/authorized_keys`.
public enum KeyFiles {
  public static let publicSuffix = ".key"
  public static let secretSuffix = ".key_secret"
  /// Key files are 41 bytes; anything much bigger is not one (and is not read whole).
  static let maxFileBytes = 4096

  /// The paths `write(_:name:in:)` uses.
  public static func paths(name: String, in directory: String) -> (public: String, secret: String) {
    let base = (directory as NSString).appendingPathComponent(name)
    return (base + publicSuffix, base + secretSuffix)
  }

  /// Writes `pair` as NAME.key (0644) and NAME.key_secret (0600) in `directory`, which is
  /// created with mode 0700 when missing. Refuses to replace existing files unless `force`.
  /// Each file is written to a temporary file that has its final mode from the start, then
  /// renamed (or, without `force`, hard-linked so an existing file is never replaced).
  @discardableResult
  public static func write(
    _ pair: CurveKeyPair, name: String, in directory: String, force: Bool = false
  )
    throws -> (public: String, secret: String)
  {
    try checkName(name)
    var isDirectory: ObjCBool = false
    if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
      guard mkdir(directory, 0o700) == 0 || errno == EEXIST else {
        throw DLPError.io(
          "cannot create the key folder \(directory): \(String(cString: strerror(errno)))")
      }
    } else if !isDirectory.boolValue {
      throw DLPError.io("\(directory) is not a folder (expected --output-dir to name one)")
    }
    let paths = paths(name: name, in: directory)
    if !force {
      for path in [paths.secret, paths.public] where FileManager.default.fileExists(atPath: path) {
        throw DLPError.io(
          "\(path) already exists; pass --force to replace it (peers holding the old public key will be refused)"
        )
      }
    }
    try writeFile(paths.secret, text: pair.secretKey.z85 + "\n", mode: 0o600, replace: force)
    do {
      try writeFile(paths.public, text: pair.publicKey.z85 + "\n", mode: 0o644, replace: force)
    } catch {
      unlink(paths.secret)
      throw error
    }
    return paths
  }

  /// Reads a secret key file and derives its key pair, refusing a file that others can read.
  public static func loadKeyPair(secretFile path: String) throws -> CurveKeyPair {
    if path.hasSuffix(publicSuffix) {
      throw DLPError.config(
        "\(path) looks like a public key file; pass the secret one (\(path)_secret, written by dlp keygen next to it)"
      )
    }
    let info = try statKeyFile(path, what: "CURVE secret key file")
    if info.st_mode & 0o077 != 0 {
      throw DLPError.config(
        "the CURVE secret key file \(path) is accessible by group or others (mode \(octal(info.st_mode & 0o777))); it must be readable by its owner only: chmod 600 \(path)"
      )
    }
    let me = geteuid()
    if info.st_uid != me && info.st_uid != 0 {
      throw DLPError.config(
        "the CURVE secret key file \(path) belongs to uid \(info.st_uid), not to this user (uid \(me)) or root; refusing to use it (chown it, or make your own with dlp keygen)"
      )
    }
    let key = try CurveKey(z85: try readSmallFile(path), what: "the CURVE secret key in \(path)")
    return try CurveKeyPair(secretKey: key)
  }

  /// Reads a public key file (a peer's, or the server's the client checks).
  public static func loadPublicKey(_ path: String) throws -> CurveKey {
    if path.hasSuffix(secretSuffix) {
      throw DLPError.config(
        "\(path) is a secret key file; pass the public key (the .key file beside it)")
    }
    _ = try statKeyFile(path, what: "CURVE public key file")
    return try CurveKey(z85: try readSmallFile(path), what: "the CURVE public key in \(path)")
  }

  /// The public keys (`*.key`) in an authorized-keys folder, by file name without `.key`.
  /// Refuses a folder or key file that group or others can write (anyone able to add a file
  /// could admit themselves), a folder without keys, and any malformed key, naming it.
  public static func loadAuthorizedKeys(directory: String) throws -> [String: CurveKey] {
    var info = stat()
    guard stat(directory, &info) == 0 else {
      throw DLPError.config(
        "the authorized keys folder \(directory) does not exist (\(String(cString: strerror(errno))))"
      )
    }
    guard info.st_mode & S_IFMT == S_IFDIR else {
      throw DLPError.config(
        "\(directory) is not a folder; --authorized-keys names a folder of *.key files")
    }
    if info.st_mode & 0o022 != 0 {
      throw DLPError.config(
        "the authorized keys folder \(directory) is writable by group or others (mode \(octal(info.st_mode & 0o777))): anyone able to add a file could admit themselves; chmod go-w \(directory)"
      )
    }
    let names: [String]
    do {
      names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
    } catch {
      throw DLPError.config(
        "cannot list the authorized keys folder \(directory): \(error.localizedDescription)")
    }
    var keys: [String: CurveKey] = [:]
    for file in names where file.hasSuffix(publicSuffix) && !file.hasPrefix(".") {
      let path = (directory as NSString).appendingPathComponent(file)
      let fileInfo = try statKeyFile(path, what: "authorized key file")
      if fileInfo.st_mode & 0o022 != 0 {
        throw DLPError.config(
          "the authorized key file \(path) is writable by group or others (mode \(octal(fileInfo.st_mode & 0o777))); chmod go-w \(path)"
        )
      }
      keys[String(file.dropLast(publicSuffix.count))] = try loadPublicKey(path)
    }
    guard !keys.isEmpty else {
      throw DLPError.config(
        "no public keys (*.key) in the authorized keys folder \(directory); copy each worker's NAME.key there (dlp keygen writes them)"
      )
    }
    return keys
  }

  // MARK: Helpers

  static func checkName(_ name: String) throws {
    let allowed = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    guard !name.isEmpty, !name.hasPrefix("."), name.count <= 200, name.allSatisfy(allowed.contains)
    else {
      throw DLPError.config(
        "a key name is letters, digits, '.', '_' and '-', not starting with '.'. Received: name=\(name)"
      )
    }
  }

  static func octal(_ mode: mode_t) -> String { "0" + String(mode, radix: 8) }

  /// stat() of a key file that must exist and be a regular file.
  static func statKeyFile(_ path: String, what: String) throws -> stat {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let reason = String(cString: strerror(errno))
      throw DLPError.config(
        "the \(what) \(path) cannot be read: \(reason) (dlp keygen --output-dir DIR --name NAME makes key files)"
      )
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw DLPError.config("the \(what) \(path) is not a regular file")
    }
    guard info.st_size <= maxFileBytes else {
      throw DLPError.config("the \(what) \(path) has \(info.st_size) bytes; a key file has 41")
    }
    return info
  }

  static func readSmallFile(_ path: String) throws -> String {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else {
      throw DLPError.config("cannot open \(path): \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: maxFileBytes + 1)
    var total = 0
    while total < buffer.count {
      let n = buffer.withUnsafeMutableBytes {
        Glibc.read(fd, $0.baseAddress! + total, $0.count - total)
      }
      if n < 0 && errno == EINTR { continue }
      guard n >= 0 else {
        throw DLPError.config("cannot read \(path): \(String(cString: strerror(errno)))")
      }
      if n == 0 { break }
      total += n
    }
    defer { for i in 0..<total { buffer[i] = 0 } }
    guard total <= maxFileBytes else {
      throw DLPError.config("\(path) is too big to be a key file")
    }
    return String(decoding: buffer[0..<total], as: UTF8.self)
  }

  /// Writes `text` to `path` through a temporary file created with `mode` (O_EXCL, then
  /// fchmod in case the umask narrowed it), fsync'ed, then renamed over `path` (`replace`) or
  /// hard-linked to it, which fails rather than replace an existing file.
  static func writeFile(_ path: String, text: String, mode: mode_t, replace: Bool) throws {
    let directory = (path as NSString).deletingLastPathComponent
    let temp =
      (directory.isEmpty ? "." : directory)
      + "/.\((path as NSString).lastPathComponent).\(getpid()).\(UInt32.random(in: 0...UInt32.max)).tmp"
    let fd = open(temp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode)
    guard fd >= 0 else {
      throw DLPError.io("cannot create \(temp): \(String(cString: strerror(errno)))")
    }
    var ok = fchmod(fd, mode) == 0
    var bytes = Array(text.utf8)
    defer { for i in bytes.indices { bytes[i] = 0 } }
    var written = 0
    while ok && written < bytes.count {
      let n = bytes.withUnsafeBytes {
        Glibc.write(fd, $0.baseAddress! + written, $0.count - written)
      }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { ok = false } else { written += n }
    }
    ok = ok && fsync(fd) == 0
    let failure = String(cString: strerror(errno))
    close(fd)
    guard ok else {
      unlink(temp)
      throw DLPError.io("cannot write \(temp): \(failure)")
    }
    defer { unlink(temp) }
    if replace {
      guard rename(temp, path) == 0 else {
        throw DLPError.io("cannot rename \(temp) to \(path): \(String(cString: strerror(errno)))")
      }
    } else {
      guard link(temp, path) == 0 else {
        let e = errno
        if e == EEXIST { throw DLPError.io("\(path) already exists; pass --force to replace it") }
        throw DLPError.io("cannot create \(path): \(String(cString: strerror(e)))")
      }
    }
  }
}
