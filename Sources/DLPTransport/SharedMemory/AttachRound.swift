import CZMQ
import Foundation
import Logging

/// The shared-memory collective's one round over ZeroMQ: every rank tells every peer, with a
/// header-only `SharedAttached` message, that it has mapped all their segments, and waits for
/// the same from each. After it the segments' names can go and the mailboxes carry the rest.
///
/// The listener is a TCP port anyone can reach: whatever is not a valid `SharedAttached` for
/// this job from one of our ranks is refused with a log line and the wait goes on, so a stranger
/// can delay the round until its timeout but not break it.
enum AttachRound {
  static let logger = Logger(label: "dlp.transport.shm")

  static func run(
    jobID: UInt64, rank: Int, worldSize: Int, senders: [ZMQSocket?], receiver: ZMQSocket,
    timeout: Double, cancellation: Cancellation?
  ) throws {
    let header = MessageHeader(
      jobID: jobID, step: 0, kind: .sharedAttached, senderRank: Int32(rank), payloadBytes: 0
    ).packed()
    for q in 0..<worldSize where q != rank {
      do {
        try senders[q]!.send(header, more: true)
        try senders[q]!.send([], more: false)
      } catch TransportError.timeout(_, let op, let s) {
        throw TransportError.timeout(peer: q, operation: op, seconds: s)
      }
    }
    var heard = [Bool](repeating: false, count: worldSize)
    heard[rank] = true
    let arena = ProtobufArena(capacity: 1024)
    let end = DispatchTime.now().uptimeNanoseconds + UInt64(timeout * 1e9)
    while let missing = heard.firstIndex(of: false) {
      let now = DispatchTime.now().uptimeNanoseconds
      guard now < end,
        try receiver.waitReadable(timeout: Double(end - now) / 1e9, cancellation: cancellation)
      else {
        throw TransportError.timeout(
          peer: missing, operation: "shared-memory set-up: no SharedAttached from rank \(missing)",
          seconds: timeout)
      }
      let frames: [ZMQMessage]
      do {
        frames = try receiver.receiveMultipart(timeout: 0, maxFrames: 2, cancellation: cancellation)
      } catch TransportError.malformed(_, let m) {
        logger.warning("refused a shared-memory message", metadata: ["rank": "\(rank)", "why": "\(m)"])
        continue
      }
      let why: String
      if frames.count != 2 || frames[1].count != 0 {
        why = "a message of \(frames.count) frame(s)"
      } else if let h = try? MessageHeader(packed: frames[0].bytes, arena: arena) {
        let q = Int(h.senderRank)
        if h.jobID != jobID {
          why = "a \(h.kind) for job \(h.jobID)"
        } else if h.kind != .sharedAttached || h.step != 0 || h.length != 0 || h.payloadBytes != 0 {
          why = "a \(h.kind) for step \(h.step) with \(h.length) elements"
        } else if q < 0 || q >= worldSize || q == rank {
          why = "a SharedAttached from rank \(q), not a peer"
        } else {
          heard[q] = true
          continue
        }
      } else {
        why = "a frame that is not a DLP header"
      }
      logger.warning("refused a shared-memory message", metadata: ["rank": "\(rank)", "why": "\(why)"])
    }
  }
}
