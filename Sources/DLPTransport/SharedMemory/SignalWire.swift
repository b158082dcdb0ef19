import CZMQ
import Foundation
import Logging

/// The messages of the shared-memory collective: a DLP header and an empty body, no payload.
/// The header's offset/length name the region of the sender's segment that is ready.
///
/// `collect` waits for one expected message from every peer. Peers' messages arrive in order
/// per peer, and a peer runs at most one call ahead, so one early message per peer is kept for
/// the next call. Everything that fails validation is refused with a log line and ignored: a
/// stranger on the port cannot break the collective, only delay it until the timeout.
final class SignalWire {
  struct Expected {
    let kind: MessageKind
    let step: UInt64
    let tensorID: UInt32
    /// The region peer q must announce.
    let region: (Int) -> Range<Int>
  }

  let jobID: UInt64
  let rank: Int
  let worldSize: Int
  private let arena = ProtobufArena(capacity: 1024)
  private let headerScratch: UnsafeMutableRawPointer
  private let headerSlot = ZMQMessage()
  private let bodySlot = ZMQMessage()
  private var early: [MessageHeader?]
  private var seen: [Bool]
  static let logger = Logger(label: "dlp.transport.shm")

  init(jobID: UInt64, rank: Int, worldSize: Int) {
    self.jobID = jobID
    self.rank = rank
    self.worldSize = worldSize
    headerScratch = .allocate(byteCount: MessageHeader.maxPackedBytes, alignment: 8)
    early = Array(repeating: nil, count: worldSize)
    seen = Array(repeating: false, count: worldSize)
  }

  deinit { headerScratch.deallocate() }

  func send(
    _ kind: MessageKind, step: UInt64, tensorID: UInt32, region: Range<Int>, on socket: ZMQSocket,
    peer: Int
  ) throws {
    let h = MessageHeader(
      jobID: jobID, step: step, kind: kind, senderRank: Int32(rank), tensorID: tensorID,
      offset: UInt64(region.lowerBound), length: UInt64(region.count), payloadBytes: 0)
    let n = h.pack(into: headerScratch)
    do {
      try socket.send(UnsafeRawBufferPointer(start: headerScratch, count: n), more: true)
      try socket.send(UnsafeRawBufferPointer(start: headerScratch, count: 0), more: false)
    } catch TransportError.timeout(_, let op, let s) {
      throw TransportError.timeout(peer: peer, operation: op, seconds: s)
    }
  }

  /// Waits for `expected` from every peer.
  func collect(
    _ expected: Expected, from socket: ZMQSocket, timeout: Double, cancellation: Cancellation?,
    operation: String
  ) throws {
    var missing = worldSize - 1
    for q in 0..<worldSize { seen[q] = q == rank }
    // Messages that came early, during the previous call.
    for q in 0..<worldSize {
      guard let h = early[q] else { continue }
      early[q] = nil
      if check(h, from: q, against: expected) {
        seen[q] = true
        missing -= 1
      }
    }
    let deadline = DispatchTimeDeadline(seconds: timeout)
    while missing > 0 {
      let left = deadline.remaining
      guard left > 0,
        try socket.waitReadable(timeout: left, cancellation: cancellation)
      else {
        let who = (0..<worldSize).first { !seen[$0] }
        throw TransportError.timeout(
          peer: who, operation: "\(operation): no \(expected.kind) from rank \(who ?? -1)",
          seconds: timeout)
      }
      while missing > 0, let h = try receiveOne(from: socket) {
        let q = Int(h.senderRank)
        if seen[q] {
          // The peer has finished this call and started the next one.
          if early[q] == nil {
            early[q] = h
          } else {
            refuse("a third message from rank \(q) within one call (\(h.kind), step \(h.step))")
          }
          continue
        }
        if check(h, from: q, against: expected) {
          seen[q] = true
          missing -= 1
        }
      }
    }
  }

  /// Whether `h` from peer `q` is the expected message (logs why not).
  private func check(_ h: MessageHeader, from q: Int, against e: Expected) -> Bool {
    let want = e.region(q)
    guard h.kind == e.kind, h.step == e.step, h.tensorID == e.tensorID,
      h.offset == UInt64(want.lowerBound), h.length == UInt64(want.count)
    else {
      refuse(
        "rank \(q) sent \(h.kind) for step \(h.step), tensor \(h.tensorID), region \(h.offset)+\(h.length); expected \(e.kind) for step \(e.step), tensor \(e.tensorID), region \(want.lowerBound)+\(want.count)"
      )
      return false
    }
    return true
  }

  /// Reads one message if one is queued; nil when none is. Invalid messages are refused and
  /// skipped.
  private func receiveOne(from socket: ZMQSocket) throws -> MessageHeader? {
    while true {
      guard try socket.receive(raw: headerSlot.raw, wait: false) else { return nil }
      var frames = 1
      var last = headerSlot
      if headerSlot.hasMore {
        _ = try socket.receive(raw: bodySlot.raw, wait: true)
        frames += 1
        last = bodySlot
      }
      if last.hasMore {
        try socket.drainMessage(after: last)
        refuse("a message of more than 2 frames")
        continue
      }
      guard frames == 2, bodySlot.count == 0 else {
        refuse("a message of \(frames) frame(s) with a \(bodySlot.count)-byte body")
        continue
      }
      let h: MessageHeader
      do {
        h = try MessageHeader(packed: headerSlot.bytes, arena: arena)
      } catch {
        refuse("\(error)")
        continue
      }
      guard h.jobID == jobID else {
        refuse("a \(h.kind) for job \(h.jobID)")
        continue
      }
      guard h.senderRank >= 0, Int(h.senderRank) < worldSize, Int(h.senderRank) != rank else {
        refuse("a \(h.kind) from rank \(h.senderRank), not a peer")
        continue
      }
      guard h.payloadBytes == 0,
        [.sharedAttached, .sharedReduceReady, .sharedGatherReady, .sharedReleased].contains(h.kind)
      else {
        refuse("a \(h.kind) with \(h.payloadBytes) payload bytes")
        continue
      }
      return h
    }
  }

  private func refuse(_ why: String) {
    Self.logger.warning(
      "refused a shared-memory message", metadata: ["rank": "\(rank)", "why": "\(why)"])
  }
}

/// A monotonic deadline.
struct DispatchTimeDeadline {
  let end: UInt64
  init(seconds: Double) {
    end = DispatchTime.now().uptimeNanoseconds + UInt64(Swift.max(0, seconds) * 1e9)
  }
  var remaining: Double {
    let now = DispatchTime.now().uptimeNanoseconds
    return now >= end ? 0 : Double(end - now) / 1e9
  }
}
