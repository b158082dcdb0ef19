import ArgumentParser
import DLP
import DLPCluster
import DLPTransport
import Foundation

/// `dlp-coordinator`'s keys: its secret key and the folder of worker public keys it admits.
/// (`--insecure` is in `RunOptions`, shared with train and kfold.)
struct CoordinatorKeyArguments: ParsableArguments {
  @Option(help: "This coordinator's CURVE secret key (NAME.key_secret from dlp keygen, mode 0600).")
  var curveSecretKey: String?
  @Option(
    help: "A folder of the workers' CURVE public keys (*.key): only those workers are admitted.")
  var authorizedKeys: String?

  /// The coordinator's security for `bind`, or an error saying which flags are missing. Checked
  /// before anything starts: a coordinator bound beyond loopback without keys refuses to run
  /// unless `insecure` says so (and then warns).
  func resolve(bind: String, insecure: Bool) throws -> SecurityOptions {
    if insecure && (curveSecretKey != nil || authorizedKeys != nil) {
      throw DLPError.config(
        "--insecure turns CURVE off; it cannot be combined with --curve-secret-key or --authorized-keys"
      )
    }
    switch (curveSecretKey, authorizedKeys) {
    case (let secret?, let folder?):
      let pair = try KeyFiles.loadKeyPair(secretFile: secret)
      let keys = try KeyFiles.loadAuthorizedKeys(directory: folder)
      return .curve(CurveCredentials(keyPair: pair, authorizedKeys: keys))
    case (_?, nil):
      throw DLPError.config(
        "--curve-secret-key needs --authorized-keys DIR: the folder of the public keys (*.key) of the workers to admit"
      )
    case (nil, _?):
      throw DLPError.config(
        "--authorized-keys needs --curve-secret-key FILE: this coordinator's own secret key (dlp keygen makes one)"
      )
    case (nil, nil):
      try BindPolicy.checkPlainText(listening: bind, insecure: insecure)
      return .insecure
    }
  }
}

/// `dlp-worker`'s keys: its own secret key and the coordinator's public key.
struct WorkerKeyArguments: ParsableArguments {
  @Option(help: "This worker's CURVE secret key (NAME.key_secret from dlp keygen, mode 0600).")
  var curveSecretKey: String?
  @Option(
    help: "The coordinator's CURVE public key (its NAME.key): the worker talks to no other server.")
  var coordinatorKey: String?
  @Flag(
    help:
      "Connect without CURVE: anyone on the path can read the job and impersonate the coordinator.")
  var insecure = false
  @Option(help: .hidden) var curveKeysFd: Int32?

  func resolve(connect: String) throws -> SecurityOptions {
    let files = curveSecretKey != nil || coordinatorKey != nil
    if insecure && (files || curveKeysFd != nil) {
      throw DLPError.config(
        "--insecure turns CURVE off; it cannot be combined with --curve-secret-key or --coordinator-key"
      )
    }
    if let fd = curveKeysFd {
      // Keys handed over by the parent that started this worker (`dlp train --workers N`).
      guard !files else {
        throw DLPError.config("--curve-keys-fd cannot be combined with key files")
      }
      return .curve(try CredentialHandoff.read(fd: fd))
    }
    switch (curveSecretKey, coordinatorKey) {
    case (let secret?, let server?):
      let pair = try KeyFiles.loadKeyPair(secretFile: secret)
      return .curve(CurveCredentials(keyPair: pair, serverKey: try KeyFiles.loadPublicKey(server)))
    case (_?, nil):
      throw DLPError.config(
        "--curve-secret-key needs --coordinator-key FILE: the coordinator's public key, so this worker talks to no impostor"
      )
    case (nil, _?):
      throw DLPError.config(
        "--coordinator-key needs --curve-secret-key FILE: this worker's own secret key (dlp keygen makes one)"
      )
    case (nil, nil):
      try BindPolicy.checkPlainText(connecting: connect, insecure: insecure)
      return .insecure
    }
  }
}

/// `--heartbeat-timeout` and `--collective-timeout`, for train, kfold, dlp-coordinator and
/// dlp-worker.
struct TimeoutArguments: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "Seconds of heartbeat silence before a peer counts as lost (default \(ClusterDefaults.heartbeatTimeout.secondsText)).",
      valueName: "seconds"))
  var heartbeatTimeout: Double?
  @Option(
    help: ArgumentHelp(
      "Seconds a collective waits for a silent peer before the step fails (default \(ClusterDefaults.collectiveTimeout.secondsText)).",
      valueName: "seconds"))
  var collectiveTimeout: Double?

  static let maximum = 86_400.0

  func validate() throws {
    if let t = heartbeatTimeout,
      !(t.isFinite && t >= 2 * ClusterDefaults.heartbeatInterval && t <= Self.maximum)
    {
      throw ValidationError(
        "--heartbeat-timeout must be between \(2 * ClusterDefaults.heartbeatInterval) s (two heartbeats) and \(Int(Self.maximum)) s. Received: \(t)"
      )
    }
    if let t = collectiveTimeout, !(t.isFinite && t > 0 && t <= Self.maximum) {
      throw ValidationError(
        "--collective-timeout must be more than 0 and at most \(Int(Self.maximum)) s. Received: \(t)"
      )
    }
  }

  var resolvedHeartbeatTimeout: Double { heartbeatTimeout ?? ClusterDefaults.heartbeatTimeout }
  var resolvedCollectiveTimeout: Double { collectiveTimeout ?? ClusterDefaults.collectiveTimeout }
}

/// Who may listen or connect in plain text.
enum BindPolicy {
  static let warning =
    "CURVE is off (--insecure): anyone who can reach these ports can join the job, read the model and the data, and send weights"

  /// A coordinator listening beyond loopback without keys refuses to start, naming the flags;
  /// with `insecure` it warns.
  static func checkPlainText(listening bind: String, insecure: Bool) throws {
    if AddressResolution.isLocalOnly(bindEndpoint: bind) { return }
    guard insecure else {
      throw DLPError.config(
        "refusing to listen on \(bind) without CURVE keys: every host that reaches it could join the job. Pass --curve-secret-key FILE --authorized-keys DIR (dlp keygen makes the keys), or --insecure on a network you trust"
      )
    }
    warn("dlp-coordinator on \(bind): \(warning)")
  }

  /// A worker connecting beyond loopback without keys refuses too: it could not tell its
  /// coordinator from an impostor.
  static func checkPlainText(connecting endpoint: String, insecure: Bool) throws {
    if AddressResolution.isLocalOnly(bindEndpoint: endpoint) { return }
    guard insecure else {
      throw DLPError.config(
        "refusing to connect to \(endpoint) without CURVE keys: this worker could not tell its coordinator from an impostor. Pass --curve-secret-key FILE --coordinator-key FILE (dlp keygen makes the keys), or --insecure on a network you trust"
      )
    }
    warn("dlp-worker connecting to \(endpoint): \(warning)")
  }

  static func warn(_ text: String) {
    FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
  }
}

extension Double {
  /// "3 s", "2.5 s".
  var secondsText: String { self == rounded() ? "\(Int(self)) s" : "\(self) s" }
}
