import CZMQ
import Foundation

/// Receiving on a ring listener, where anybody may have connected: the chunks of our
/// predecessor are taken, everybody else's messages dropped.
extension ChunkWire {
  /// Receives the next chunk our predecessor `peer` sent, into `payload`, and returns its header.
  ///
  /// A PULL socket does not say who sent a message, so its content does: a message that is not
  /// a collective chunk of this job from `peer` (not a DLP message at all, another protocol
  /// version, another job, another sender rank, another kind of message) comes from a stranger
  /// and is dropped with a log line; the wait goes on, within the same deadline, so a flood of
  /// strangers' messages cannot stretch it. A chunk of this job from `peer` that is wrong
  /// (another step, tensor or phase, a body, a payload that disagrees with its header) means the
  /// neighbour is out of step or broken, and throws.
  ///
  /// With `wait` false, returns nil at once when no message is queued.
  func receiveFromNeighbour(
    _ socket: ZMQSocket, into payload: ZMQMessage, peer: Int, kind: MessageKind, step: UInt64,
    tensorID: UInt32, wait: Bool, operation: String
  ) throws -> MessageHeader? {
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
    while true {
      if try !socket.receive(raw: headerSlot.raw, wait: false) {
        guard wait else { return nil }
        let now = DispatchTime.now().uptimeNanoseconds
        guard now < deadline,
          try socket.waitReadable(
            timeout: Double(deadline - now) / 1e9, cancellation: cancellation, operation: operation)
        else {
          throw TransportError.timeout(peer: peer, operation: operation, seconds: timeout)
        }
        continue
      }
      if let header = try neighbourChunk(
        socket, payload: payload, peer: peer, kind: kind, step: step, tensorID: tensorID)
      {
        return header
      }
    }
  }

  /// Reads the rest of the message whose first frame is in `headerSlot` and judges it: the
  /// header of an acceptable chunk, nil for a stranger's message (dropped), or an error.
  private func neighbourChunk(
    _ socket: ZMQSocket, payload: ZMQMessage, peer: Int, kind: MessageKind, step: UInt64,
    tensorID: UInt32
  ) throws -> MessageHeader? {
    payload.reset()
    // ZeroMQ delivers the frames of a message together: the rest is already here.
    guard headerSlot.hasMore else { return drop("a one-frame message", peer: peer) }
    _ = try socket.receive(raw: bodySlot.raw, wait: true)
    if bodySlot.hasMore {
      _ = try socket.receive(raw: payload.raw, wait: true)
      if payload.hasMore {
        try socket.drainMessage(after: payload)
        payload.reset()
        return drop("a message of more than 3 frames", peer: peer)
      }
    }
    let header: MessageHeader
    do {
      header = try MessageHeader(packed: headerSlot.bytes, arena: arena, peer: nil)
    } catch {
      payload.reset()
      return drop("\(error)", peer: peer)
    }
    guard header.jobID == jobID, header.senderRank == Int32(peer),
      header.kind == .reduceScatterChunk || header.kind == .allGatherChunk
    else {
      payload.reset()
      return drop(
        "a \(header.kind) of job \(header.jobID) from rank \(header.senderRank)", peer: peer)
    }
    do {
      guard header.step == step else {
        throw TransportError.unexpectedStep(peer: peer, expected: step, got: header.step)
      }
      guard header.kind == kind else {
        throw TransportError.unexpectedKind(peer: peer, expected: [kind], got: header.kind)
      }
      guard header.tensorID == tensorID else {
        throw TransportError.malformed(
          peer: peer, "chunk of tensor \(header.tensorID), expected tensor \(tensorID)")
      }
      guard bodySlot.count == 0 else {
        throw TransportError.malformed(peer: peer, "\(kind) must have an empty body")
      }
      try MessageCodec.checkPayload(
        header, frame: bodySlot.hasMore ? payload.count : nil, limit: maxChunkBytes, peer: peer)
      return header
    } catch {
      payload.reset()
      Self.logger.warning(
        "refused a collective chunk",
        metadata: ["rank": "\(rank)", "peer": "\(peer)", "error": "\(error)"])
      throw error
    }
  }

  /// Counts and logs a stranger's message (the first ten, then every thousandth).
  private func drop(_ what: String, peer: Int) -> MessageHeader? {
    droppedMessages += 1
    if droppedMessages <= 10 || droppedMessages % 1000 == 0 {
      Self.logger.warning(
        "dropped a message that is not a chunk from our predecessor",
        metadata: [
          "rank": "\(rank)", "predecessor": "\(peer)", "message": "\(what)",
          "dropped_so_far": "\(droppedMessages)",
        ])
    }
    return nil
  }
}
