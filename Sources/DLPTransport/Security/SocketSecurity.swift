import DLPTensor
import Logging

/// What a process's sockets use to talk to its peers: nothing (`insecure`, chosen explicitly)
/// or CURVE with this process's key pair.
public enum SecurityOptions: Sendable, Equatable, CustomStringConvertible {
  /// Plain text: anyone who reaches a port can join, read and send. Only with `--insecure`,
  /// or on loopback.
  case insecure
  case curve(CurveCredentials)

  public var isSecure: Bool {
    if case .curve = self { return true }
    return false
  }

  public var description: String {
    switch self {
    case .insecure: return "insecure"
    case .curve(let c):
      return
        "CURVE (public key \(c.keyPair.publicKey.z85), \(c.authorizedKeys.count) authorized keys)"
    }
  }
}

/// A process's CURVE identity and whom it trusts.
public struct CurveCredentials: Sendable, Equatable {
  /// This process's key pair: its servers prove it, its clients authenticate with it.
  public var keyPair: CurveKeyPair
  /// Client keys this process's servers admit, by name (a coordinator: its workers'; a worker:
  /// none at first, then its ring predecessor's from the job spec).
  public var authorizedKeys: [String: CurveKey]
  /// The server this process connects to as a client (a worker: the coordinator's key).
  public var serverKey: CurveKey?

  public init(
    keyPair: CurveKeyPair, authorizedKeys: [String: CurveKey] = [:], serverKey: CurveKey? = nil
  ) {
    self.keyPair = keyPair
    self.authorizedKeys = authorizedKeys
    self.serverKey = serverKey
  }
}

/// The security of one ZeroMQ context: with CURVE, a running ZAP handler admitting
/// `authorized` keys, and the socket options for every server and client socket the process
/// opens on that context. Insecure, it hands socket options back unchanged.
///
/// Start it right after the context and before any socket binds:
///
///     let security = try SocketSecurity(context: context, options: options.security)
///     control = try ZMQSocket(context: context, kind: .router, options: security.server(.init(...)))
///     worker  = try ZMQSocket(context: context, kind: .dealer, options: try security.client(.init(...)))
public final class SocketSecurity: @unchecked Sendable {
  public let options: SecurityOptions
  /// Client keys this context's servers admit; add to it at any time (thread-safe).
  public let authorized: AuthorizedKeys
  public let zap: ZAPHandler?

  public init(
    context: ZMQContext, options: SecurityOptions, logger: Logger = Logger(label: "dlp.security"),
    onRefusal: (@Sendable (ZAPRefusal) -> Void)? = nil
  ) throws {
    self.options = options
    switch options {
    case .insecure:
      authorized = AuthorizedKeys()
      zap = nil
    case .curve(let c):
      authorized = AuthorizedKeys(c.authorizedKeys)
      zap = try ZAPHandler(context: context, keys: authorized, logger: logger, onRefusal: onRefusal)
    }
  }

  public var isSecure: Bool { options.isSecure }

  /// This process's public key (nil when insecure): what peers put in their trust lists.
  public var publicKey: CurveKey? {
    if case .curve(let c) = options { return c.keyPair.publicKey }
    return nil
  }

  /// `base` for a socket that binds (control and heartbeat ROUTERs, the central root, a ring
  /// listener): a CURVE server with this process's key pair.
  public func server(_ base: ZMQSocket.Options = .init()) -> ZMQSocket.Options {
    guard case .curve(let c) = options else { return base }
    return base.secured(.server(c.keyPair))
  }

  /// `base` for a socket that connects to a server whose public key is `serverKey` (default:
  /// the credentials' `serverKey`, the coordinator's for a worker). Throws when secured and no
  /// server key is known: a CURVE client must know whom it talks to.
  public func client(_ base: ZMQSocket.Options = .init(), serverKey: CurveKey? = nil) throws
    -> ZMQSocket.Options
  {
    guard case .curve(let c) = options else { return base }
    guard let key = serverKey ?? c.serverKey else {
      throw DLPError.config(
        "a CURVE client socket needs the server's public key (--coordinator-key FILE)")
    }
    return base.secured(.client(c.keyPair, serverKey: key))
  }

  /// The role of a socket that binds (nil when insecure).
  public var serverRole: CurveRole? {
    guard case .curve(let c) = options else { return nil }
    return .server(c.keyPair)
  }

  /// The role of a socket that connects to a server whose public key is `serverKey` (default:
  /// the credentials' `serverKey`); nil when insecure. Throws when secured and no key is known.
  public func clientRole(serverKey: CurveKey? = nil) throws -> CurveRole? {
    guard case .curve(let c) = options else { return nil }
    guard let key = serverKey ?? c.serverKey else {
      throw DLPError.config("a CURVE client socket needs the server's public key (--coordinator-key FILE)")
    }
    return .client(c.keyPair, serverKey: key)
  }

  /// This process's key pair (nil when insecure).
  public var keyPair: CurveKeyPair? {
    guard case .curve(let c) = options else { return nil }
    return c.keyPair
  }

  /// Admits `key` (a ring peer's, learnt from the job spec) to this context's servers.
  public func authorize(_ key: CurveKey, name: String) { authorized.insert(key, name: name) }
}
