import CZMQ
import DLPTransport
import Foundation
import XCTest

/// The shared-memory collective with ranks as threads (each its own ZeroMQ context over tcp, as
/// processes would have; the segments are real POSIX shared memory).
final class SharedMemoryAllReduceTests: XCTestCase {
  /// Sets up `n` ranks and runs `body` on each with its collective.
  func withRanks<T: Sendable>(
    _ n: Int, capacity: Int, registered: Int = 0, timeout: Double = 10,
    _ body: @escaping @Sendable (Int, SharedMemoryAllReduce) throws -> T
  ) -> [Result<T, Error>] {
    let barrier = ThreadBarrier(parties: n)
    let board = Board(n)
    let job = UInt64.random(in: 1...UInt64.max)
    return RankThreads.run(n) { rank -> T in
      let context = try ZMQContext()
      let listener = try CollectiveListener(context: context)
      board.set(rank, listener.endpoint)
      try barrier.wait(timeout: 10)
      let c = try SharedMemoryAllReduce(
        context: context, listener: listener, endpoints: (0..<n).map(board.get),
        options: .init(
          rank: rank, worldSize: n, jobID: job, capacity: capacity, timeout: timeout,
          segmentPrefix: "dlp-test", registeredBuffers: registered))
      defer { c.close() }
      return try body(rank, c)
    }
  }

  func testClosedFormSumForEveryRankCountAndSize() throws {
    for n in 1...4 {
      for count in RingAllReduceTests.counts {
        let results = withRanks(n, capacity: 5000) { rank, c -> [Float] in
          var out: [Float] = []
          // Several calls: the slots alternate, and every call must see fresh data.
          for step in 1...3 {
            var b = closedFormInput(rank: rank, count: count).map { $0 * Float(step) }
            try b.withUnsafeMutableBufferPointer { try c.run($0, step: UInt64(step)) }
            out = b
            for i in 0..<count where b[i] != closedFormSum(ranks: n, index: i) * Float(step) {
              throw TransportError.invalidArgument("step \(step) element \(i): \(b[i])")
            }
          }
          return out
        }
        for (rank, r) in results.enumerated() {
          XCTAssertNoThrow(try r.get(), "n=\(n) count=\(count) rank \(rank)")
        }
      }
    }
  }

  func testRegisteredBuffersMatchCopiedOnesBitForBit() throws {
    let n = 3
    let count = 10_007
    let results = withRanks(n, capacity: count, registered: 1) { rank, c -> ([Float], [Float], [Float]) in
      var copied = randomInput(rank: rank, count: count)
      try copied.withUnsafeMutableBufferPointer { try c.run($0, step: 1) }
      let shared = c.registeredBuffer(0)
      var fourth: [Float] = []
      for step in 2...4 {
        let input = randomInput(rank: rank + step, count: count)
        for i in 0..<count { shared[i] = input[i] }
        try c.run(shared, step: UInt64(step))
        fourth = Array(shared[0..<count])
        // Written the moment `run` returns: a peer still reading our shard would pick it up.
        for i in 0..<count { shared[i] = .nan }
      }
      let last = randomInput(rank: rank, count: count)
      for i in 0..<count { shared[i] = last[i] }
      try c.run(shared, step: 5)
      return (copied, Array(shared[0..<count]), fourth)
    }
    let buffers = try results.map { try $0.get() }
    for rank in 0..<n {
      XCTAssertEqual(buffers[rank].0.map(\.bitPattern), buffers[0].0.map(\.bitPattern))
      XCTAssertEqual(buffers[rank].1.map(\.bitPattern), buffers[0].0.map(\.bitPattern), "rank \(rank)")
      XCTAssertFalse(buffers[rank].2.contains { $0.isNaN }, "rank \(rank) read a buffer its peer had given back")
      XCTAssertEqual(buffers[rank].2.map(\.bitPattern), buffers[0].2.map(\.bitPattern))
    }
    let inputs = (0..<n).map { randomInput(rank: $0, count: count) }
    for i in stride(from: 0, to: count, by: 101) {
      // Rank order, left to right: the exact float the collective must produce.
      var s = inputs[0][i]
      for q in 1..<n { s += inputs[q][i] }
      XCTAssertEqual(buffers[0].0[i].bitPattern, s.bitPattern, "element \(i)")
    }
  }

  func testZeRO1StepsOnRegisteredGradientsAndWeights() throws {
    let n = 2
    let count = 1001
    let results = withRanks(n, capacity: count, registered: 2) { rank, c -> [Float] in
      let weights = c.registeredBuffer(0)
      let grads = c.registeredBuffer(1)
      for i in 0..<count { weights[i] = 1 }
      for step in 1...5 {
        // "Backward": a gradient that depends on the rank and on the weights every rank holds.
        for i in 0..<count { grads[i] = weights[i] * Float(rank + 1) }
        let owned = try c.reduceScatter(
          UnsafeMutableBufferPointer(rebasing: grads[0..<count]), step: UInt64(step), tensorID: 0)
        for i in owned { weights[i] -= 0.125 * grads[i] }
        try c.allGather(
          UnsafeMutableBufferPointer(rebasing: weights[0..<count]), step: UInt64(step), tensorID: 0)
      }
      return Array(weights[0..<count])
    }
    // w <- w - 0.125 * 3w each step: w = (1 - 0.375)^5 everywhere, on both ranks.
    let expected = Float(1) * 0.625 * 0.625 * 0.625 * 0.625 * 0.625
    for r in results {
      let w = try r.get()
      XCTAssertTrue(w.allSatisfy { $0 == expected }, "\(w.prefix(4)) vs \(expected)")
    }
  }

  func testSegmentsAreUnlinkedOnceEveryoneHasMappedThem() throws {
    let results = withRanks(3, capacity: 64) { rank, c -> [String] in
      var b = [Float](repeating: Float(rank), count: 64)
      try b.withUnsafeMutableBufferPointer { try c.run($0, step: 1) }
      return try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")
    }
    for r in results {
      let names = try r.get()
      XCTAssertFalse(names.contains { $0.hasPrefix("dlp-test-") }, "left in /dev/shm: \(names)")
    }
  }

  func testAMissingPeerTimesOutNamingIt() throws {
    // Rank 1 never shows up: rank 0 cannot map its segment and says so.
    let context = try ZMQContext()
    let listener = try CollectiveListener(context: context)
    let start = Date()
    XCTAssertThrowsError(
      try SharedMemoryAllReduce(
        context: context, listener: listener, endpoints: [listener.endpoint, "tcp://127.0.0.1:9"],
        options: .init(
          rank: 0, worldSize: 2, jobID: .random(in: 1...UInt64.max), capacity: 16, timeout: 0.5,
          segmentPrefix: "dlp-test"))
    ) { error in
      XCTAssertTrue("\(error)".contains("r1"), "\(error)")
      XCTAssertTrue("\(error)".contains("does not exist"), "\(error)")
    }
    XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    let left = try FileManager.default.contentsOfDirectory(atPath: "/dev/shm")
    XCTAssertFalse(left.contains { $0.hasPrefix("dlp-test-") }, "left in /dev/shm: \(left)")
  }

  func testStrangersAndBadHeadersAreRefusedWithoutBreakingTheCollective() throws {
    let n = 2
    let barrier = ThreadBarrier(parties: n + 1)
    let board = Board(n)
    let job = UInt64.random(in: 1...UInt64.max)
    let sent = DispatchSemaphore(value: 0)
    // A stranger queues garbage on both listeners before the ranks even set up.
    let stranger = Thread {
      defer { for _ in 0..<n { sent.signal() } }
      guard (try? barrier.wait(timeout: 10)) != nil, let context = try? ZMQContext() else { return }
      for rank in 0..<n {
        guard let push = try? ZMQSocket(context: context, kind: .push, options: .init(sendTimeout: 2)) else { return }
        try? push.connect(board.get(rank))
        let peer = 1 - Int32(rank)
        try? push.send([1, 2, 3], more: false)  // not a header
        try? push.send(MessageHeader(jobID: job &+ 1, step: 0, kind: .sharedAttached, senderRank: peer, payloadBytes: 0).packed(), more: true)
        try? push.send([], more: false)  // another job
        try? push.send(MessageHeader(jobID: job, step: 0, kind: .sharedAttached, senderRank: 5, payloadBytes: 0).packed(), more: true)
        try? push.send([], more: false)  // not a peer
        try? push.send(MessageHeader(jobID: job, step: 0, kind: .sharedAttached, senderRank: peer, length: 4).packed(), more: true)
        try? push.send([], more: true)
        try? push.send([UInt8](repeating: 0, count: 16), more: false)  // a payload frame
        try? push.send(MessageHeader(jobID: job, step: 9, kind: .sharedAttached, senderRank: peer, offset: 3, payloadBytes: 0).packed(), more: true)
        try? push.send([], more: false)  // a region nobody announced
        push.close(linger: 2)
      }
      usleep(300_000)
    }
    stranger.start()
    let results = RankThreads.run(n) { rank -> [Float] in
      let context = try ZMQContext()
      let listener = try CollectiveListener(context: context)
      board.set(rank, listener.endpoint)
      try barrier.wait(timeout: 10)
      sent.wait()
      let c = try SharedMemoryAllReduce(
        context: context, listener: listener, endpoints: (0..<n).map(board.get),
        options: .init(rank: rank, worldSize: n, jobID: job, capacity: 100, timeout: 10, segmentPrefix: "dlp-test"))
      defer { c.close() }
      var b = closedFormInput(rank: rank, count: 100)
      try b.withUnsafeMutableBufferPointer { try c.run($0, step: 7) }
      return b
    }
    for r in results {
      let b = try r.get()
      for i in 0..<100 { XCTAssertEqual(b[i], closedFormSum(ranks: n, index: i)) }
    }
  }

  func testAPeerOutOfStepFailsTheCallNamingIt() throws {
    let results = withRanks(2, capacity: 32, timeout: 2) { rank, c -> Void in
      var b = [Float](repeating: 1, count: 32)
      try b.withUnsafeMutableBufferPointer { try c.run($0, step: UInt64(rank + 1)) }
    }
    for (rank, r) in results.enumerated() {
      XCTAssertThrowsError(try r.get()) { error in
        XCTAssertTrue("\(error)".contains("rank \(1 - rank) announced SharedReduceReady for step \(2 - rank)"), "\(error)")
      }
    }
  }

  func testBuffersBeyondTheCapacityAreRefused() throws {
    let results = withRanks(2, capacity: 8) { _, c -> Void in
      var b = [Float](repeating: 1, count: 9)
      try b.withUnsafeMutableBufferPointer { try c.run($0, step: 1) }
    }
    for r in results {
      XCTAssertThrowsError(try r.get()) { XCTAssertTrue("\($0)".contains("capacity 8"), "\($0)") }
    }
  }
}
