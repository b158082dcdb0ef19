import CZMQ
import Foundation
import Logging

/// A decoded message: header, body and (when the header announces one) the float payload.
public struct Envelope {
  /// The sender's routing id, for messages received on a ROUTER socket (pass it back to reply).
  public var routingID: [UInt8]?
  public var header: MessageHeader
  public var message: Message
  public var payload: Payload?
  /// The sender's CURVE public key (Z85) as the ZAP handler admitted it, for messages received
  /// on a CURVE server socket; nil otherwise. What a Hello claims is only trusted if it matches.
  public var peerKey: String? = nil
}

/// Turns DLP messages into multipart frames and back, validating everything it receives.
///
/// Frames: `[routing id]` (ROUTER only), header, body, and a float32 payload frame when
/// `header.payloadBytes > 0`. A codec keeps reusable buffers (packing scratch, a protobuf arena
/// for unpacking), so it belongs to one thread; the steady-state send and receive paths do not
/// allocate for the header or body. Everything a peer can send is validated here: frame count,
/// sizes against `limits`, protocol version, job, kind, step, and the payload size against the
/// header; failures throw (and are logged), they never trap.
public final class MessageCodec {
  /// Size caps applied to received messages.
  public struct Limits: Sendable, Equatable {
    /// Largest body frame accepted (a JobSpec with a big model config is the biggest).
    public var maxBodyBytes: Int
    /// Largest payload frame accepted.
    public var maxPayloadBytes: Int

    public init(maxBodyBytes: Int = 16 << 20, maxPayloadBytes: Int = 1 << 30) {
      self.maxBodyBytes = maxBodyBytes
      self.maxPayloadBytes = maxPayloadBytes
    }

    /// The `ZMQ_MAXMSGSIZE` that matches these limits (ZeroMQ caps each frame).
    public var maxFrameBytes: Int64 {
      Int64(max(maxBodyBytes, maxPayloadBytes, MessageHeader.maxPackedBytes))
    }
  }

  /// The job stamped on sent headers and expected by `expect(...)`.
  public var jobID: UInt64
  /// The rank stamped on sent headers (`DLPProtocol.noRank` for the coordinator).
  public var rank: Int32
  public var limits: Limits
  /// Payloads at least this big are sent zero-copy when a tracker is given; smaller ones are
  /// copied, which is cheaper than the bookkeeping.
  public var zeroCopyMinBytes: Int
  /// Whether refused messages are logged (a warning each); fuzzers turn it off.
  public var logsRefusals = true

  let arena = ProtobufArena()
  private let headerScratch = UnsafeMutableRawPointer.allocate(
    byteCount: MessageHeader.maxPackedBytes, alignment: 8)
  private var bodyScratch: [UInt8] = []
  static let logger = Logger(label: "dlp.transport")

  public init(
    jobID: UInt64 = 0, rank: Int32 = DLPProtocol.noRank, limits: Limits = Limits(),
    zeroCopyMinBytes: Int = 64 << 10
  ) {
    self.jobID = jobID
    self.rank = rank
    self.limits = limits
    self.zeroCopyMinBytes = zeroCopyMinBytes
    bodyScratch.reserveCapacity(256)
  }

  deinit { headerScratch.deallocate() }

  /// An expectation for `kinds` of this codec's job.
  public func expect(_ kinds: MessageKind..., step: UInt64? = nil, from rank: Int32? = nil)
    -> Expectation
  {
    Expectation(kinds: kinds.isEmpty ? nil : kinds, jobID: jobID, step: step, senderRank: rank)
  }

  /// The header this codec would send.
  public func header(
    kind: MessageKind, step: UInt64, tensorID: UInt32 = 0, offset: UInt64 = 0, length: Int = 0
  ) -> MessageHeader {
    MessageHeader(
      jobID: jobID, step: step, kind: kind, senderRank: rank, tensorID: tensorID, offset: offset,
      length: UInt64(length))
  }

  // MARK: Byte frames

  /// Encodes a message as frames (header, body, payload if any), copying everything; for
  /// tests and for transports other than ZeroMQ.
  public func encode(
    _ message: Message, step: UInt64 = 0, tensorID: UInt32 = 0, offset: UInt64 = 0,
    payload: UnsafeBufferPointer<Float>? = nil
  ) -> [[UInt8]] {
    let h = header(
      kind: message.kind, step: step, tensorID: tensorID, offset: offset,
      length: payload?.count ?? 0)
    var frames = [h.packed()]
    var body: [UInt8] = []
    message.pack(into: &body)
    frames.append(body)
    if let payload, !payload.isEmpty { frames.append([UInt8](UnsafeRawBufferPointer(payload))) }
    return frames
  }

  /// Encodes a message as frames.
  public func encode<M: WireMessage>(
    _ message: M, step: UInt64 = 0, tensorID: UInt32 = 0, offset: UInt64 = 0,
    payload: [Float]? = nil
  ) -> [[UInt8]] {
    guard let payload else {
      return encode(message.message, step: step, tensorID: tensorID, offset: offset)
    }
    return payload.withUnsafeBufferPointer {
      encode(message.message, step: step, tensorID: tensorID, offset: offset, payload: $0)
    }
  }

  /// Decodes and validates frames (no routing id); `peer` is named in errors.
  public func decode(frames: [[UInt8]], expecting: Expectation = .any, peer: Int? = nil) throws
    -> Envelope
  {
    let payload = frames.count == 3 ? Payload(bytes: frames[2]) : nil
    return try withRawFrames(frames) { raw in
      try decode(raw, expecting: expecting, peer: peer, payload: payload)
    }
  }

  private func withRawFrames<R>(_ frames: [[UInt8]], _ body: ([UnsafeRawBufferPointer]) throws -> R)
    rethrows -> R
  {
    // Frames are few (at most a handful), so nesting withUnsafeBytes is cheap enough here.
    var raws: [UnsafeRawBufferPointer] = []
    func go(_ i: Int) throws -> R {
      if i == frames.count { return try body(raws) }
      return try frames[i].withUnsafeBytes { bytes in
        raws.append(bytes)
        return try go(i + 1)
      }
    }
    return try go(0)
  }

  /// The shared validation path for every received message.
  func decode(
    _ frames: [UnsafeRawBufferPointer], expecting: Expectation, peer: Int?, payload: Payload?
  ) throws
    -> Envelope
  {
    do {
      guard frames.count >= 2 else {
        throw TransportError.malformed(
          peer: peer, "expected header and body frames, got \(frames.count) frame(s)")
      }
      guard frames.count <= 3 else {
        throw TransportError.malformed(peer: peer, "expected at most 3 frames, got \(frames.count)")
      }
      let header = try MessageHeader(packed: frames[0], arena: arena, peer: peer)
      let who = peer ?? (header.senderRank >= 0 ? Int(header.senderRank) : nil)
      try expecting.check(header, peer: who)
      try Self.checkPayload(
        header, frame: frames.count == 3 ? frames[2].count : nil, limit: limits.maxPayloadBytes,
        peer: who)
      guard frames[1].count <= limits.maxBodyBytes else {
        throw TransportError.tooLarge(peer: who, bytes: frames[1].count, limit: limits.maxBodyBytes)
      }
      let message: Message
      do {
        message = try Message.decode(kind: header.kind, body: frames[1], arena: arena)
      } catch TransportError.malformed(_, let text) {
        throw TransportError.malformed(peer: who, text)
      }
      return Envelope(routingID: nil, header: header, message: message, payload: payload)
    } catch {
      guard logsRefusals else { throw error }
      Self.logger.warning(
        "refused a message",
        metadata: ["peer": "\(peer.map(String.init) ?? "?")", "error": "\(error)"])
      throw error
    }
  }

  /// Checks that the payload frame (its size, or nil when absent) matches what `header` says.
  static func checkPayload(_ header: MessageHeader, frame: Int?, limit: Int, peer: Int?) throws {
    guard header.payloadBytes % 4 == 0 else {
      throw TransportError.malformed(
        peer: peer, "payload of \(header.payloadBytes) bytes is not whole float32 values")
    }
    guard header.length <= UInt64(Int.max / 4), header.payloadBytes == header.length * 4 else {
      throw TransportError.malformed(
        peer: peer, "header says \(header.length) elements but \(header.payloadBytes) payload bytes"
      )
    }
    guard header.payloadBytes <= UInt64(limit) else {
      throw TransportError.tooLarge(
        peer: peer, bytes: Int(clamping: header.payloadBytes), limit: limit)
    }
    switch frame {
    case nil where header.payloadBytes > 0:
      throw TransportError.malformed(
        peer: peer, "header announces \(header.payloadBytes) payload bytes, none came")
    case let bytes? where UInt64(bytes) != header.payloadBytes:
      throw TransportError.malformed(
        peer: peer, "payload frame has \(bytes) bytes, header announces \(header.payloadBytes)")
    default:
      break
    }
  }

  // MARK: ZeroMQ

  /// Sends a message on `socket`. On a ROUTER socket `routingID` names the peer. The payload is
  /// sent zero-copy when `zeroCopy` is given and it is at least `zeroCopyMinBytes`: then its
  /// memory must stay unchanged until the tracker drains.
  public func send(
    _ message: Message, on socket: ZMQSocket, step: UInt64 = 0, tensorID: UInt32 = 0,
    offset: UInt64 = 0,
    payload: UnsafeBufferPointer<Float>? = nil, zeroCopy: ZeroCopyTracker? = nil,
    routingID: [UInt8]? = nil
  ) throws {
    if socket.kind == .router {
      guard let routingID else {
        throw TransportError.invalidArgument("sending on a ROUTER socket needs a routing id")
      }
      try socket.send(routingID, more: true)
    }
    let n = payload?.count ?? 0
    let h = header(kind: message.kind, step: step, tensorID: tensorID, offset: offset, length: n)
    let headerBytes = h.pack(into: headerScratch)
    try socket.send(UnsafeRawBufferPointer(start: headerScratch, count: headerBytes), more: true)
    message.pack(into: &bodyScratch)
    try bodyScratch.withUnsafeBytes { try socket.send($0, more: n > 0) }
    if let payload, n > 0 {
      let bytes = UnsafeRawBufferPointer(payload)
      if let zeroCopy, bytes.count >= zeroCopyMinBytes {
        try socket.sendZeroCopy(bytes, tracker: zeroCopy)
      } else {
        try socket.send(bytes)
      }
    }
  }

  /// Sends a message on `socket` (see `send(_:on:...)` with `Message`).
  public func send<M: WireMessage>(
    _ message: M, on socket: ZMQSocket, step: UInt64 = 0, tensorID: UInt32 = 0, offset: UInt64 = 0,
    payload: UnsafeBufferPointer<Float>? = nil, zeroCopy: ZeroCopyTracker? = nil,
    routingID: [UInt8]? = nil
  ) throws {
    try send(
      message.message, on: socket, step: step, tensorID: tensorID, offset: offset, payload: payload,
      zeroCopy: zeroCopy, routingID: routingID)
  }

  /// Receives and validates the next message, waiting at most `timeout` seconds (nil: forever).
  /// The payload is not copied: it stays in the frame ZeroMQ received. Errors name `peer`
  /// (default: the socket's `peerRank`, else the rank the header claims).
  public func receive(
    from socket: ZMQSocket, expecting: Expectation = .any, timeout: Double?,
    cancellation: Cancellation? = nil,
    peer: Int? = nil
  ) throws -> Envelope {
    let router = socket.kind == .router
    let frames = try socket.receiveMultipart(
      timeout: timeout, maxFrames: router ? 4 : 3, cancellation: cancellation)
    var rest = frames[...]
    var routingID: [UInt8]?
    if router {
      routingID = rest.removeFirst().array
    }
    let dataFrames = Array(rest)
    let payload = dataFrames.count == 3 ? Payload(frame: dataFrames[2]) : nil
    // The raw views point into the frames, which must outlive the decoding.
    var envelope = try withExtendedLifetime(dataFrames) {
      try decode(
        dataFrames.map(\.bytes), expecting: expecting, peer: peer ?? socket.peerRank,
        payload: payload)
    }
    envelope.routingID = routingID
    if socket.curveRole?.isServer == true { envelope.peerKey = dataFrames.first?.property("User-Id") }
    return envelope
  }
}
