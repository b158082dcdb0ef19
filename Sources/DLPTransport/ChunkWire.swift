import CZMQ
import Foundation
import Logging

/// The collectives' data path: sends and receives chunks of a float buffer as DLP messages
/// (header, empty body, payload) with strict validation, without per-chunk allocation.
///
/// Owned by one collective (one thread). Received payloads land in caller-owned `ZMQMessage`
/// slots and are read in place.
final class ChunkWire {
  let jobID: UInt64
  let rank: Int32
  let timeout: Double
  let cancellation: Cancellation?
  let zeroCopyMinBytes: Int
  let maxChunkBytes: Int
  let tracker = ZeroCopyTracker()
  private let headerScratch = UnsafeMutableRawPointer.allocate(
    byteCount: MessageHeader.maxPackedBytes, alignment: 8)
  // The arena and the receive slots are shared with ChunkWire+Neighbour.swift.
  let arena = ProtobufArena(capacity: 1024)
  let headerSlot = ZMQMessage()
  let bodySlot = ZMQMessage()
  private let routingSlot = ZMQMessage()
  static let logger = Logger(label: "dlp.transport.collective")

  init(
    jobID: UInt64, rank: Int, timeout: Double, cancellation: Cancellation?, zeroCopyMinBytes: Int,
    maxChunkBytes: Int
  ) {
    self.jobID = jobID
    self.rank = Int32(rank)
    self.timeout = timeout
    self.cancellation = cancellation
    self.zeroCopyMinBytes = zeroCopyMinBytes
    self.maxChunkBytes = maxChunkBytes
  }

  deinit {
    // Frames still in flight reference the tracker (retained), not this object; nothing to wait for.
    headerScratch.deallocate()
  }

  // MARK: Sending

  private func sendHeader(
    on socket: ZMQSocket, routingID: [UInt8]?, kind: MessageKind, step: UInt64, tensorID: UInt32,
    offset: Int,
    count: Int
  ) throws {
    if let routingID { try socket.send(routingID, more: true) }
    let h = MessageHeader(
      jobID: jobID, step: step, kind: kind, senderRank: rank, tensorID: tensorID,
      offset: UInt64(offset),
      length: UInt64(count))
    let n = h.pack(into: headerScratch)
    try socket.send(UnsafeRawBufferPointer(start: headerScratch, count: n), more: true)
    try socket.send(UnsafeRawBufferPointer(start: headerScratch, count: 0), more: count > 0)
  }

  /// Sends `buffer[range]`; big chunks go zero-copy (the tracker counts them until ZeroMQ is done).
  func send(
    _ buffer: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>, on socket: ZMQSocket,
    routingID: [UInt8]? = nil,
    kind: MessageKind, step: UInt64, tensorID: UInt32
  ) throws {
    try sendHeader(
      on: socket, routingID: routingID, kind: kind, step: step, tensorID: tensorID,
      offset: range.lowerBound,
      count: range.count)
    guard !range.isEmpty else { return }
    let bytes = UnsafeRawBufferPointer(
      start: buffer.baseAddress! + range.lowerBound, count: range.count * 4)
    if bytes.count >= zeroCopyMinBytes {
      try socket.sendZeroCopy(bytes, tracker: tracker)
    } else {
      try socket.send(bytes)
    }
  }

  /// Sends `buffer[range]` to several ROUTER peers: one zero-copy frame shared by reference
  /// counting (`zmq_msg_copy`), so the data is neither copied nor read more than once per peer.
  func broadcast(
    _ buffer: UnsafeMutableBufferPointer<Float>, _ range: Range<Int>, on socket: ZMQSocket,
    to peers: [(Int, [UInt8])],
    kind: MessageKind, step: UInt64, tensorID: UInt32
  ) throws {
    guard !range.isEmpty, range.count * 4 >= zeroCopyMinBytes else {
      for (peer, id) in peers {
        try withPeer(peer) {
          try send(
            buffer, range, on: socket, routingID: id, kind: kind, step: step, tensorID: tensorID)
        }
      }
      return
    }
    var shared = zmq_msg_t()
    let bytes = UnsafeRawBufferPointer(
      start: buffer.baseAddress! + range.lowerBound, count: range.count * 4)
    try tracker.initMessage(&shared, bytes: bytes)
    defer { zmq_msg_close(&shared) }
    for (peer, id) in peers {
      try withPeer(peer) {
        try sendHeader(
          on: socket, routingID: id, kind: kind, step: step, tensorID: tensorID,
          offset: range.lowerBound,
          count: range.count)
        var copy = zmq_msg_t()
        zmq_msg_init(&copy)
        defer { zmq_msg_close(&copy) }
        guard zmq_msg_copy(&copy, &shared) == 0 else {
          throw TransportError.lastZMQError("zmq_msg_copy")
        }
        try socket.send(raw: &copy, more: false)
      }
    }
  }

  /// Sends the frame in `slot` on (its content moves; the slot is left empty).
  func forward(
    _ slot: ZMQMessage, offset: Int, count: Int, on socket: ZMQSocket, kind: MessageKind,
    step: UInt64,
    tensorID: UInt32
  ) throws {
    try sendHeader(
      on: socket, routingID: nil, kind: kind, step: step, tensorID: tensorID, offset: offset,
      count: count)
    if count > 0 { try socket.send(slot) }
  }

  /// Runs `body`, attributing a send failure to `peer`.
  private func withPeer(_ peer: Int, _ body: () throws -> Void) throws {
    do { try body() } catch TransportError.unreachable(_, let m) {
      throw TransportError.unreachable(peer: peer, m)
    } catch TransportError.timeout(_, let op, let s) {
      throw TransportError.timeout(peer: peer, operation: op, seconds: s)
    }
  }

  // MARK: Receiving

  /// Receives the next chunk into `payload`. On a ROUTER socket the routing id frame comes first
  /// and is returned. Frame structure, version, job, kind, step, tensor and the payload size are
  /// checked; offset and length are left to the caller, which knows which chunk comes next.
  func receive(
    from socket: ZMQSocket, into payload: ZMQMessage, kind: MessageKind, step: UInt64,
    tensorID: UInt32,
    peer: Int?, operation: String, routingRank: ((UnsafeRawBufferPointer) -> Int?)? = nil
  ) throws -> (header: MessageHeader, sender: Int?) {
    let router = socket.kind == .router
    var last = router ? routingSlot : headerSlot
    try socket.receiveFirst(
      raw: last.raw, timeout: timeout, cancellation: cancellation, operation: operation)
    do {
      if router {
        guard last.hasMore else {
          throw TransportError.malformed(peer: peer, "routing frame without a message")
        }
        last = headerSlot
        _ = try socket.receive(raw: headerSlot.raw, wait: true)
      }
      guard headerSlot.hasMore else {
        throw TransportError.malformed(peer: peer, "header without a body frame")
      }
      last = bodySlot
      _ = try socket.receive(raw: bodySlot.raw, wait: true)
      if bodySlot.hasMore {
        last = payload
        _ = try socket.receive(raw: payload.raw, wait: true)
        guard !payload.hasMore else {
          throw TransportError.malformed(peer: peer, "more than 3 frames")
        }
      } else {
        payload.reset()
      }
      var who = peer
      if router {
        // Whoever is not one of our ranks is dropped, not allowed to fail the collective.
        guard let q = routingRank?(routingSlot.bytes) else { throw Stranger() }
        who = q
      }
      let header = try MessageHeader(packed: headerSlot.bytes, arena: arena, peer: who)
      let claimed = who ?? (header.senderRank >= 0 ? Int(header.senderRank) : nil)
      // The same checks, in the same order, as `Expectation.check`, without building one per chunk.
      guard header.jobID == jobID else {
        throw TransportError.wrongJob(peer: claimed, expected: jobID, got: header.jobID)
      }
      guard header.kind == kind else {
        throw TransportError.unexpectedKind(peer: claimed, expected: [kind], got: header.kind)
      }
      guard header.step == step else {
        throw TransportError.unexpectedStep(peer: claimed, expected: step, got: header.step)
      }
      guard header.tensorID == tensorID else {
        throw TransportError.malformed(
          peer: claimed, "chunk of tensor \(header.tensorID), expected tensor \(tensorID)")
      }
      guard bodySlot.count == 0 else {
        throw TransportError.malformed(peer: claimed, "\(kind) must have an empty body")
      }
      try MessageCodec.checkPayload(
        header, frame: bodySlot.hasMore ? payload.count : nil, limit: maxChunkBytes, peer: claimed)
      return (header, who)
    } catch {
      // Leave the socket at a message boundary whatever went wrong.
      try? socket.drainMessage(after: last)
      payload.reset()
      if error is Stranger {
        Self.logger.warning(
          "dropped a message from a peer that is not one of our ranks",
          metadata: ["rank": "\(rank)"])
        throw error
      }
      Self.logger.warning(
        "refused a collective chunk",
        metadata: [
          "rank": "\(rank)", "peer": "\(peer.map(String.init) ?? "?")", "error": "\(error)",
        ])
      throw error
    }
  }

  /// Thrown by `receive` for a message from a routing id that is not one of our ranks; the
  /// caller drops it and keeps waiting.
  struct Stranger: Error {}

  /// Messages `receiveFromNeighbour` dropped so far (ChunkWire+Neighbour.swift).
  var droppedMessages = 0

  /// Checks that a received chunk is the one expected next from `peer`.
  func expect(_ header: MessageHeader, from peer: Int, range: Range<Int>) throws {
    guard header.senderRank == Int32(peer) else {
      throw TransportError.malformed(
        peer: peer, "chunk claims to come from rank \(header.senderRank)")
    }
    guard header.offset == UInt64(range.lowerBound), header.length == UInt64(range.count) else {
      throw TransportError.malformed(
        peer: peer,
        "chunk of \(header.length) elements at \(header.offset), expected \(range.count) at \(range.lowerBound)"
      )
    }
  }

  /// Waits until ZeroMQ has let go of every zero-copy frame, so the caller may change its buffer.
  func drain() throws {
    guard tracker.waitUntilDrained(timeout: timeout) else {
      throw TransportError.timeout(
        peer: nil, operation: "waiting for sends to complete", seconds: timeout)
    }
  }
}

/// The chunks a range is streamed in: consecutive pieces of at most `size` elements.
struct Chunks {
  let range: Range<Int>
  let size: Int

  /// How many chunks (0 for an empty range).
  var count: Int { range.isEmpty ? 0 : (range.count + size - 1) / size }

  /// The `index`-th chunk.
  subscript(index: Int) -> Range<Int> {
    let start = range.lowerBound + index * size
    return start..<Swift.min(range.upperBound, start + size)
  }
}
