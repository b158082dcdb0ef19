import CZMQ

/// How a socket takes part in CURVE (ZeroMQ's RFC 26: Curve25519 key exchange, then every frame
/// encrypted and authenticated).
public enum CurveRole: Sendable, Equatable {
  /// The side that binds: proves it holds `keyPair`'s secret; clients are admitted by the
  /// context's ZAP handler (`ZMQ_CURVE_SERVER`, `ZMQ_ZAP_DOMAIN`).
  case server(CurveKeyPair)
  /// The side that connects: authenticates with `keyPair` and completes the handshake only with
  /// a server holding `serverKey`'s secret, so an impostor server is refused.
  case client(CurveKeyPair, serverKey: CurveKey)

  public var isServer: Bool {
    if case .server = self { return true }
    return false
  }
}

extension ZMQSocket.Options {
  /// These options with `role` (nil leaves the socket in plain text).
  public func secured(_ role: CurveRole?) -> ZMQSocket.Options {
    var o = self
    o.curve = role
    return o
  }
}

extension ZMQSocket {
  /// Applies `role`'s options; must run before the socket binds or connects.
  func applyCurve(_ role: CurveRole) throws {
    try CurveSupport.require()
    switch role {
    case .server(let pair):
      guard context.hasZAPHandler else {
        throw TransportError.invalidArgument(
          "a CURVE server socket needs a ZAP handler on its context (without one ZeroMQ admits every client key); start SocketSecurity or ZAPHandler first"
        )
      }
      try setOption(ZMQ_CURVE_SERVER, Int32(1))
      try setOption(ZMQ_CURVE_SECRETKEY, bytes: pair.secretKey.bytes)
      try setOption(ZMQ_ZAP_DOMAIN, bytes: Array(ZAPHandler.domain.utf8))
    case .client(let pair, let serverKey):
      try setOption(ZMQ_CURVE_SERVERKEY, bytes: serverKey.bytes)
      try setOption(ZMQ_CURVE_PUBLICKEY, bytes: pair.publicKey.bytes)
      try setOption(ZMQ_CURVE_SECRETKEY, bytes: pair.secretKey.bytes)
    }
    curveRole = role
  }
}

extension ZMQMessage {
  /// A metadata property of a received frame (`zmq_msg_gets`): "User-Id" (what the ZAP handler
  /// admitted the peer as: its public key's Z85), "Peer-Address", "Socket-Type"; nil when absent.
  public func property(_ name: String) -> String? {
    guard let value = zmq_msg_gets(raw, name) else { return nil }
    return String(cString: value)
  }
}
