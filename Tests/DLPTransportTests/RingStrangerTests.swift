import CZMQ
import DLPTransport
import Foundation
import XCTest

/// Whoever reaches a ring listener's port can send to it: messages from anybody but the
/// predecessor are dropped while the ring carries on, and what a connection can make the
/// process hold is bounded.
final class RingStrangerTests: XCTestCase {
  /// Every kind of message a stranger might send to a ring listener of job 7 (the predecessor
  /// of the listener's rank is `prev`).
  static func strangeMessages(prev: Int32) -> [[[UInt8]]] {
    let payload = [UInt8](repeating: 0x41, count: 64)
    func chunk(
      job: UInt64 = 7, rank: Int32 = prev, kind: MessageKind = .reduceScatterChunk,
      version: UInt32 = DLPProtocol.version
    ) -> [[UInt8]] {
      let h = MessageHeader(
        version: version, jobID: job, step: 0, kind: kind, senderRank: rank, offset: 0, length: 16)
      return [h.packed(), [], payload]
    }
    return [
      [Array("GET / HTTP/1.1\r\n".utf8), [0xDE, 0xAD]],  // not ours at all
      [[1, 2, 3]],  // one frame
      [[8, 1], [], [], [], []],  // five frames
      [[0xFF, 0xFF, 0xFF, 0xFF], [], payload],  // not a header
      chunk(job: 99),  // another job
      chunk(rank: 5),  // not our predecessor
      chunk(kind: .heartbeat),  // not a collective chunk
      chunk(version: DLPProtocol.version + 1),  // another protocol version
    ]
  }

  /// Sends `messages` on a new PUSH socket connected to `endpoint`; the socket is returned so
  /// the caller keeps it (and its queue) alive.
  static func stranger(_ endpoint: String, context: ZMQContext, messages: [[[UInt8]]]) throws
    -> ZMQSocket
  {
    let s = try ZMQSocket(context: context, kind: .push, options: .init(sendTimeout: 5))
    try s.connect(endpoint)
    for m in messages {
      for (i, frame) in m.enumerated() { try s.send(frame, more: i < m.count - 1) }
    }
    return s
  }

  func testStrangersAreDroppedWhileTheRingCarriesOn() throws {
    let n = 3
    let contexts = try (0..<n).map { _ in try ZMQContext() }
    let listeners = try contexts.map { try CollectiveListener(context: $0, maxChunkBytes: 1024) }
    let strangers = try ZMQContext()
    // Strangers' messages wait in every listener's queue before the ring starts...
    var sockets = try (0..<n).map { r in
      try Self.stranger(
        listeners[r].endpoint, context: strangers,
        messages: Self.strangeMessages(prev: Int32((r + n - 1) % n)))
    }
    // ...one announces a frame over the listener's cap (ZeroMQ drops that connection)...
    sockets += try (0..<n).map { r in
      try Self.stranger(
        listeners[r].endpoint, context: strangers,
        messages: [[[1], [UInt8](repeating: 0, count: 4096)]])
    }
    // ...and more keep coming while it runs.
    let stop = Cancellation()
    let spam = Thread {
      guard
        let s = try? ZMQSocket(
          context: strangers, kind: .push, options: .init(sendHighWaterMark: 4, sendTimeout: 0.01))
      else { return }
      for l in listeners { try? s.connect(l.endpoint) }
      while !stop.isCancelled { try? s.send(Array("garbage".utf8)) }
      s.close()
    }
    spam.start()
    let count = 3001
    let results = withRing(ranks: n, chunkBytes: 1024, listeners: listeners) {
      rank, ring -> Int in
      // Something is queued (the strangers were first) before the ring reads anything.
      guard try listeners[rank].socket.waitReadable(timeout: 10) else {
        throw TransportError.invalidArgument("no stranger's message arrived")
      }
      for step in 0..<5 {
        var b = closedFormInput(rank: rank, count: count)
        try b.withUnsafeMutableBufferPointer { try ring.run($0, step: UInt64(step), tensorID: 0) }
        for i in 0..<count where b[i] != closedFormSum(ranks: n, index: i) {
          throw TransportError.invalidArgument("step \(step) element \(i): \(b[i])")
        }
      }
      return ring.droppedMessages
    }
    stop.cancel()
    for (rank, r) in results.enumerated() {
      XCTAssertGreaterThan(try r.get(), 0, "rank \(rank) dropped nothing")
    }
    for s in sockets { s.close() }
  }

  /// Three strangers push full-size frames at an idle listener (no collective reading it) as
  /// fast as it takes them, plus one announcing oversized frames: the process's resident memory
  /// grows by at most the per-connection queues, then the ring still sums correctly.
  func testStrangersCannotGrowAnIdleListenersMemory() throws {
    guard let before = residentBytes() else {
      throw XCTSkip("no /proc/self/statm here: resident memory cannot be measured")
    }
    let context = try ZMQContext()
    let listeners = try (0..<2).map { _ in try CollectiveListener(context: context) }
    let frame = UnsafeMutableRawBufferPointer.allocate(
      byteCount: listeners[0].maxChunkBytes, alignment: 64)
    frame.initializeMemory(as: UInt8.self, repeating: 7)
    let tracker = ZeroCopyTracker()
    let strangers = try ZMQContext()
    var sent: [Int] = []
    var sockets: [ZMQSocket] = []
    for size in [frame.count, frame.count, frame.count, frame.count * 4] {
      let s = try ZMQSocket(
        context: strangers, kind: .push, options: .init(sendHighWaterMark: 1, sendTimeout: 1))
      try s.connect(listeners[0].endpoint)
      sockets.append(s)
      var count = 0
      let oversized = size > frame.count ? [UInt8](repeating: 1, count: size) : []
      // Until the listener stops taking them (the send times out) or 10,000 went, as in the
      // attack the issue reports (10,000 queued messages per connection). An oversized frame
      // gets its connection dropped (ZeroMQ reconnects it); 10 of them make the point.
      let limit = oversized.isEmpty ? 10_000 : 10
      do {
        while count < limit {
          try s.send([9, 9], more: true)
          if oversized.isEmpty {
            try s.sendZeroCopy(UnsafeRawBufferPointer(frame), tracker: tracker)
          } else {
            try s.send(oversized)
          }
          count += 1
        }
      } catch TransportError.timeout {}
      sent.append(count)
    }
    let grown = (residentBytes() ?? before) - before
    let queue = Int(listeners[0].receiveHighWaterMark) + 2
    XCTAssertGreaterThanOrEqual(
      sent[0], queue, "a stranger could not even fill its queue: the test measured nothing")
    XCTAssertLessThan(sent.prefix(3).min() ?? 0, 10_000, "nothing held the strangers back")
    // Three connections' queues of full frames are ~14 MiB; allow for everything else.
    XCTAssertLessThan(grown, 64 << 20, "resident memory grew by \(grown >> 20) MiB; sent \(sent)")
    // The listener still serves its ring.
    let count = 100_003
    let results = withRing(ranks: 2, chunkBytes: listeners[0].maxChunkBytes, listeners: listeners) {
      rank, ring -> Void in
      var b = closedFormInput(rank: rank, count: count)
      try b.withUnsafeMutableBufferPointer { try ring.run($0, step: 0, tensorID: 0) }
      for i in 0..<count where b[i] != closedFormSum(ranks: 2, index: i) {
        throw TransportError.invalidArgument("element \(i): \(b[i])")
      }
    }
    for r in results { XCTAssertNoThrow(try r.get()) }
    XCTAssertLessThan((residentBytes() ?? before) - before, 96 << 20)
    for s in sockets { s.close() }
    _ = tracker.waitUntilDrained(timeout: 5)
    frame.deallocate()
  }

  func testListenerCapsFramesAndQueues() throws {
    let listener = try CollectiveListener(context: try ZMQContext())
    XCTAssertEqual(listener.maxChunkBytes, RingAllReduce.Options.defaultChunkBytes)
    // About 4 MiB of the default 512 KiB chunks per connection.
    XCTAssertEqual(try listener.socket.int32Option(ZMQ_RCVHWM), 8)
    // Bigger frames, fewer of them: about the same bytes per connection, never fewer than 2.
    let big = try CollectiveListener(context: try ZMQContext(), maxChunkBytes: 1 << 20)
    XCTAssertEqual(try big.socket.int32Option(ZMQ_RCVHWM), 4)
    XCTAssertEqual(CollectiveListener.defaultReceiveHighWaterMark(maxChunkBytes: 64 << 20), 2)
    XCTAssertEqual(CollectiveListener.defaultReceiveHighWaterMark(maxChunkBytes: 64), 1024)
  }

  func testListenerBindsWhereItIsAdvertised() throws {
    let context = try ZMQContext()
    let loopback = try CollectiveListener(context: context, advertisedHost: "127.0.0.1")
    XCTAssertTrue(loopback.endpoint.hasPrefix("tcp://127.0.0.1:"), loopback.endpoint)
    let named = try CollectiveListener(context: context, advertisedHost: "localhost")
    XCTAssertTrue(named.endpoint.hasPrefix("tcp://127.0.0.1:"), named.endpoint)
    // An address that is not this machine's (behind NAT): every interface.
    let nat = try CollectiveListener(context: context, advertisedHost: "192.0.2.77")
    XCTAssertTrue(nat.endpoint.hasPrefix("tcp://0.0.0.0:"), nat.endpoint)
    let host = try CollectiveListener(context: context, advertisedHost: "node7.example")
    XCTAssertTrue(host.endpoint.hasPrefix("tcp://0.0.0.0:"), host.endpoint)
  }
}
