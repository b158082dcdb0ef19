import Foundation

/// The socket on which a ring rank receives from its predecessor, bound before ranks are
/// assigned so its endpoint can be announced (in `HelloMessage.ringEndpoint`) and handed to
/// the predecessor (in `JobSpecMessage.peerEndpoints`).
///
/// Anyone who can reach the port can connect, so what a connection can make this process hold
/// is capped: each frame at `maxChunkBytes` (`ZMQ_MAXMSGSIZE`; a peer announcing more is
/// disconnected before anything is allocated) and each connection's queue at
/// `receiveHighWaterMark` messages (`ZMQ_RCVHWM`; beyond that ZeroMQ stops reading the socket
/// and TCP pushes back on the sender). Messages from strangers are dropped by the collective
/// (`ChunkWire.receiveFromNeighbour`); under CURVE they cannot connect at all.
public final class CollectiveListener: @unchecked Sendable {
  /// The PULL socket; owned by the collective built from this listener.
  public let socket: ZMQSocket
  /// The endpoint actually bound (with the port the kernel chose for `:*`).
  public let endpoint: String
  /// The largest frame accepted; a collective's chunks must not be bigger.
  public let maxChunkBytes: Int
  /// Messages queued per connection before ZeroMQ stops reading it.
  public let receiveHighWaterMark: Int32

  /// About what one connection may have queued: 4 MiB (16 chunks of the ring's default size)
  /// keeps the ring's pipeline full while bounding what a connection can pin.
  public static let queueBytes = 4 << 20

  /// The queue, in messages, that holds about `queueBytes` of frames of `maxChunkBytes` (at
  /// least 2, so a chunk can arrive while the previous one is added).
  public static func defaultReceiveHighWaterMark(maxChunkBytes: Int) -> Int32 {
    Int32(max(2, min(1024, queueBytes / max(1, maxChunkBytes))))
  }

  /// Binds a PULL socket at `bind` (default: loopback, any free port). `maxChunkBytes` caps each
  /// frame (the ring's default chunk size unless a collective streams bigger chunks);
  /// `receiveHighWaterMark` (default: about `queueBytes` of such frames) caps each connection's
  /// queue. `curve`: a server role when the job is secured (its context's ZAP handler admits
  /// the peers).
  public init(
    context: ZMQContext, bind: String = "tcp://127.0.0.1:*",
    maxChunkBytes: Int = RingAllReduce.Options.defaultChunkBytes,
    receiveHighWaterMark: Int32? = nil, curve: CurveRole? = nil
  ) throws {
    self.maxChunkBytes = maxChunkBytes
    let receiveHighWaterMark =
      receiveHighWaterMark ?? Self.defaultReceiveHighWaterMark(maxChunkBytes: maxChunkBytes)
    self.receiveHighWaterMark = receiveHighWaterMark
    socket = try ZMQSocket(
      context: context, kind: .pull,
      options: .init(
        receiveHighWaterMark: receiveHighWaterMark,
        maxMessageSize: Int64(max(maxChunkBytes, MessageHeader.maxPackedBytes))
      ).secured(curve))
    endpoint = try socket.bind(bind)
  }

  /// Binds where peers reach this process at `advertisedHost` and nowhere else: a loopback
  /// address or an IP address of this machine binds that address only; a host name or an
  /// address that is not ours (NAT, `--advertise` of a forwarded port) binds every interface,
  /// as the peers then arrive on an address we cannot name.
  public convenience init(
    context: ZMQContext, advertisedHost: String,
    maxChunkBytes: Int = RingAllReduce.Options.defaultChunkBytes
  ) throws {
    for bind in Self.bindEndpoints(advertisedHost: advertisedHost) {
      do {
        try self.init(context: context, bind: bind, maxChunkBytes: maxChunkBytes)
        return
      } catch TransportError.zmq(_, let errno, _) where errno == EADDRNOTAVAIL || errno == ENODEV {
        continue  // not an address of this machine: try the next candidate
      }
    }
    try self.init(context: context, bind: "tcp://0.0.0.0:*", maxChunkBytes: maxChunkBytes)
  }

  /// Where to try binding for `advertisedHost`, most specific first (the last resort, every
  /// interface, is not listed).
  static func bindEndpoints(advertisedHost host: String) -> [String] {
    var v4 = in_addr()
    if inet_pton(AF_INET, host, &v4) == 1 {
      // 0.0.0.0 advertised is a misconfiguration we cannot improve on; bind it as asked.
      return ["tcp://\(host):*"]
    }
    if host == "localhost" { return ["tcp://127.0.0.1:*"] }
    return []
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
