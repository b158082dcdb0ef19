/// The socket on which a ring rank receives from its predecessor, bound before ranks are
/// assigned so its endpoint can be announced (in `HelloMessage.ringEndpoint`) and handed to
/// the predecessor (in `JobSpecMessage.peerEndpoints`).
public final class CollectiveListener: @unchecked Sendable {
  /// The PULL socket; owned by the collective built from this listener.
  public let socket: ZMQSocket
  /// The endpoint actually bound (with the port the kernel chose for `:*`).
  public let endpoint: String
  /// The largest frame accepted; a collective's chunks must not be bigger.
  public let maxChunkBytes: Int

  /// Binds a PULL socket at `bind` (default: loopback, any free port). `maxChunkBytes` caps each
  /// frame (`ZMQ_MAXMSGSIZE`), so a stranger cannot make us allocate more than that per frame.
  /// `curve`: a server role when the job is secured (its context's ZAP handler admits the
  /// peers).
  public init(
    context: ZMQContext, bind: String = "tcp://127.0.0.1:*", maxChunkBytes: Int = 4 << 20, curve: CurveRole? = nil
  ) throws {
    self.maxChunkBytes = maxChunkBytes
    socket = try ZMQSocket(
      context: context, kind: .pull,
      options: .init(
        sendHighWaterMark: 10_000, receiveHighWaterMark: 10_000,
        maxMessageSize: Int64(max(maxChunkBytes, MessageHeader.maxPackedBytes))
      ).secured(curve))
    endpoint = try socket.bind(bind)
  }

  /// The endpoint with its host replaced by `host`, for peers on other machines when the
  /// listener bound a wildcard (`tcp://*:*` reports `tcp://0.0.0.0:PORT`).
  public func advertisedEndpoint(host: String) -> String {
    guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else {
      return endpoint
    }
    return "tcp://\(host)\(endpoint[colon...])"
  }
}
