import Foundation
import XCTest

@testable import DLPTransport

/// The ring over plain tcp streams: the same sums as the ZeroMQ ring, bit for bit, and every
/// hostile or broken neighbour ends in a clear `TransportError`, never a trap or a hang.
final class StreamRingTests: XCTestCase {
  // MARK: Results

  func testClosedFormSumForEveryRankCount() throws {
    for n in 1...4 {
      for count in RingAllReduceTests.counts {
        let results = withStreamRing(ranks: n, chunkBytes: 64) { rank, ring -> [Float] in
          var buffer = closedFormInput(rank: rank, count: count)
          try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 1, tensorID: 3) }
          return buffer
        }
        for (rank, result) in results.enumerated() {
          guard case .success(let buffer) = result else {
            XCTFail("n=\(n) count=\(count) rank \(rank): \(result)")
            continue
          }
          for i in 0..<count where buffer[i] != closedFormSum(ranks: n, index: i) {
            XCTFail("n=\(n) count=\(count) rank \(rank) element \(i): \(buffer[i])")
            break
          }
        }
      }
    }
  }

  /// Same grid, same chains of additions: the stream ring's sums are the ZeroMQ ring's bits, on
  /// every rank, step after step (the connections carry one step after another).
  func testSumsAreTheZeroMQRingsBitForBit() throws {
    for n in 2...4 {
      let count = 100_003
      let reference = try runCollective(
        .ring, ranks: n, transport: .tcp, count: count, chunkBytes: 4096, steps: 3
      ) { randomInput(rank: $0, count: count) }.map { try $0.get() }
      let streamed = try withStreamRing(ranks: n, chunkBytes: 4096) { rank, ring -> [Float] in
        var buffer: [Float] = []
        for step in 0..<3 {
          buffer = randomInput(rank: rank, count: count)
          try buffer.withUnsafeMutableBufferPointer {
            try ring.run($0, step: UInt64(step), tensorID: 3)
          }
        }
        return buffer
      }.map { try $0.get() }
      for rank in 0..<n {
        XCTAssertEqual(
          streamed[rank].map(\.bitPattern), reference[rank].map(\.bitPattern), "n=\(n) rank \(rank)"
        )
      }
    }
  }

  /// ZeRO-1: reduce-scatter, change the owned shard, all-gather; and buffers of two sizes in
  /// turn (gradients, then the metrics `sumAcrossReplicas` gathers) on one ring.
  func testReduceScatterThenAllGatherAndBuffersOfTwoSizes() throws {
    let n = 3
    let count = 10_000
    let results = withStreamRing(ranks: n, chunkBytes: 1024) { rank, ring -> ([Float], [Float]) in
      var buffer = closedFormInput(rank: rank, count: count)
      var small = [Float](repeating: Float(rank + 1), count: 7)
      for step in 1...2 {
        buffer = closedFormInput(rank: rank, count: count)
        let owned = try buffer.withUnsafeMutableBufferPointer {
          try ring.reduceScatter($0, step: UInt64(step))
        }
        XCTAssertEqual(owned, ShardPlan(count: count, parts: n).range(rank))
        for i in owned { buffer[i] *= 2 }
        try buffer.withUnsafeMutableBufferPointer { try ring.allGather($0, step: UInt64(step)) }
        small = [Float](repeating: Float(rank + 1), count: 7)
        try small.withUnsafeMutableBufferPointer {
          try ring.run($0, step: UInt64(step), tensorID: 1)
        }
      }
      return (buffer, small)
    }
    for (rank, result) in results.enumerated() {
      let (buffer, small) = try result.get()
      for i in 0..<count where buffer[i] != 2 * closedFormSum(ranks: n, index: i) {
        XCTFail("rank \(rank) element \(i): \(buffer[i])")
        break
      }
      XCTAssertEqual(small, [Float](repeating: 6, count: 7))
    }
  }

  // MARK: Strangers

  /// Garbage, a hello of another collective, one of another protocol version and one that says
  /// nothing, all at rank 0's listener before its predecessor connects: they are closed and
  /// counted, and the ring forms and sums as usual.
  func testStrangersAreClosedAndTheRingStillForms() throws {
    let listeners = try (0..<2).map { _ in try StreamListener(host: "127.0.0.1") }
    let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
    var strangers: [StreamSocket] = []
    for bytes in [
      Array("GET / HTTP/1.1\r\nHost: example.org\r\nAccept: */*\r\n\r\n".utf8),
      helloBytes(collectiveID: 99, rank: 1, world: 2, chunkElements: 256),
      helloBytes(
        collectiveID: 7, rank: 1, world: 2, chunkElements: 256, version: DLPProtocol.version - 1),
    ] {
      let s = try StreamSocket.connect(to: listeners[0].endpoint, deadline: deadline, peer: 1)
      try writeAll(s, bytes)
      strangers.append(s)
    }
    let silent = try StreamSocket.connect(to: listeners[0].endpoint, deadline: deadline, peer: 1)
    let results = withStreamRing(ranks: 2, chunkBytes: 1024, listeners: listeners) {
      rank, ring -> [Float] in
      var buffer = closedFormInput(rank: rank, count: 5000)
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 1, tensorID: 3) }
      return buffer
    }
    for result in results {
      let buffer = try result.get()
      XCTAssertEqual(buffer[4999], closedFormSum(ranks: 2, index: 4999))
    }
    XCTAssertGreaterThanOrEqual(listeners[0].droppedConnections, 3)
    withExtendedLifetime((strangers, silent)) {}
  }

  /// A flood of connections that say nothing holds at most `maxPending` slots: the oldest are
  /// closed as new ones come, and the predecessor that connects after them still gets in.
  func testAFloodOfSilentConnectionsDoesNotKeepThePredecessorOut() throws {
    let listeners = try (0..<2).map { _ in try StreamListener(host: "127.0.0.1") }
    let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
    let flood = try (0..<(StreamListener.maxPending + 8)).map { _ in
      try StreamSocket.connect(to: listeners[0].endpoint, deadline: deadline, peer: 1)
    }
    let results = withStreamRing(ranks: 2, chunkBytes: 1024, timeout: 4, listeners: listeners) { rank, ring -> Float in
      var buffer = closedFormInput(rank: rank, count: 3000)
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 1, tensorID: 3) }
      return buffer[2999]
    }
    for result in results { XCTAssertEqual(try result.get(), closedFormSum(ranks: 2, index: 2999)) }
    XCTAssertGreaterThanOrEqual(listeners[0].droppedConnections, 8)
    withExtendedLifetime(flood) {}
  }

  // MARK: A broken or hostile predecessor

  /// Rank 0 of a ring of 2 whose rank 1 is this test: it writes `bytes` after its hello and
  /// checks the error rank 0's all-reduce of 64 floats (chunks of 16, shards of 32) ends with.
  private func assertPredecessor(
    sends bytes: [UInt8], closeAfter: Bool = false, trickle: Bool = false, timeout: Double = 10,
    file: StaticString = #filePath,
    line: UInt = #line, _ check: @escaping (TransportError) -> Bool
  ) throws {
    let mine = try StreamListener(host: "127.0.0.1")
    let theirs = try StreamListener(host: "127.0.0.1")
    let outcome = ResultBox()
    let done = Signal()
    let endpoint = theirs.endpoint
    Thread.detachNewThread {
      do {
        let ring = try StreamRing(
          listener: mine, nextEndpoint: endpoint,
          options: .init(rank: 0, worldSize: 2, collectiveID: 7, chunkBytes: 64, timeout: timeout))
        var buffer = [Float](repeating: 1, count: 64)
        do {
          try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 5, tensorID: 3) }
          outcome.set(.success(()))
        } catch {
          // A failed ring stays failed: the next call says so instead of touching the sockets.
          XCTAssertThrowsTransportError(
            try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 6, tensorID: 3) }
          ) { "\($0)".contains("failed earlier") }
          outcome.set(.failure(error))
        }
      } catch {
        outcome.set(.failure(error))
      }
      done.raise()
    }
    let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
    let toRank0 = try StreamSocket.connect(to: mine.endpoint, deadline: deadline, peer: 0)
    try writeAll(toRank0, helloBytes(collectiveID: 7, rank: 1, world: 2, chunkElements: 16))
    let fromRank0 = try theirs.acceptPredecessor(
      StreamHello(collectiveID: 7, senderRank: 0, worldSize: 2, chunkElements: 16), timeout: 5,
      cancellation: nil, operation: "test")
    try writeAll(toRank0, bytes)
    if closeAfter { toRank0.close() }
    if trickle {
      // One byte every 50 ms: always some progress, never a whole chunk.
      while !done.wait(timeout: 0.05) { try? writeAll(toRank0, [0]) }
      done.raise()
    }
    XCTAssertTrue(done.wait(timeout: timeout + 10), "rank 0 hung", file: file, line: line)
    guard case .failure(let error)? = outcome.get() else {
      XCTFail("rank 0 accepted it: \(String(describing: outcome.get()))", file: file, line: line)
      return
    }
    guard let t = error as? TransportError else {
      XCTFail("not a TransportError: \(error)", file: file, line: line)
      return
    }
    XCTAssertTrue(check(t), "unexpected error: \(t)", file: file, line: line)
    withExtendedLifetime((toRank0, fromRank0)) {}
  }

  private func chunk(
    _ kind: UInt32 = 1, step: UInt64 = 5, tensor: UInt32 = 3, offset: UInt64 = 0,
    length: UInt32 = 16,
    magic: UInt32 = StreamChunkHeader.magic, floats: Int? = nil
  ) -> [UInt8] {
    var h = [UInt8](repeating: 0, count: 32)
    h.withUnsafeMutableBytes { p in
      p.storeBytes(of: magic.littleEndian, toByteOffset: 0, as: UInt32.self)
      p.storeBytes(of: kind.littleEndian, toByteOffset: 4, as: UInt32.self)
      p.storeBytes(of: tensor.littleEndian, toByteOffset: 8, as: UInt32.self)
      p.storeBytes(of: length.littleEndian, toByteOffset: 12, as: UInt32.self)
      p.storeBytes(of: step.littleEndian, toByteOffset: 16, as: UInt64.self)
      p.storeBytes(of: offset.littleEndian, toByteOffset: 24, as: UInt64.self)
    }
    return h + [UInt8](repeating: 0, count: 4 * (floats ?? Int(length)))
  }

  func testBadMagicIsMalformed() throws {
    try assertPredecessor(sends: chunk(magic: 0xDEAD_BEEF)) {
      if case .malformed(1, let m) = $0 { return m.contains("magic") } else { return false }
    }
  }

  func testUnknownKindIsMalformed() throws {
    try assertPredecessor(sends: chunk(77)) {
      if case .malformed(1, let m) = $0 { return m.contains("kind 77") } else { return false }
    }
  }

  func testAnotherStepIsRefused() throws {
    try assertPredecessor(sends: chunk(step: 4)) {
      $0 == .unexpectedStep(peer: 1, expected: 5, got: 4)
    }
  }

  func testAnotherTensorIsMalformed() throws {
    try assertPredecessor(sends: chunk(tensor: 9)) {
      if case .malformed(1, let m) = $0 { return m.contains("tensor 9") } else { return false }
    }
  }

  func testChunksOffTheGridAreMalformed() throws {
    // Past the buffer, between grid points, a wrong length, a length that would overflow.
    for (offset, length) in [(UInt64(1) << 62, UInt32(16)), (3, 16), (0, 15), (0, UInt32.max)] {
      try assertPredecessor(sends: chunk(offset: offset, length: length, floats: 0)) {
        if case .malformed(1, _) = $0 { return true } else { return false }
      }
    }
  }

  /// Rank 0 sends shard 1's chunks first (it starts that chain); a reduce-scatter chunk of
  /// shard 1 from rank 1 is one it can never expect.
  func testAChunkOfTheShardThisRankStartsIsMalformed() throws {
    try assertPredecessor(sends: chunk(offset: 32)) {
      if case .malformed(1, let m) = $0 { return m.contains("sends first") } else { return false }
    }
  }

  func testADuplicateChunkIsMalformed() throws {
    try assertPredecessor(sends: chunk(offset: 0) + chunk(offset: 0)) {
      if case .malformed(1, let m) = $0 { return m.contains("twice") } else { return false }
    }
  }

  /// Rank 0 owns shard 0: an all-gather chunk of it would overwrite the sum it computes.
  func testAnAllGatherChunkOfOurOwnShardIsMalformed() throws {
    try assertPredecessor(sends: chunk(2, offset: 0)) {
      if case .malformed(1, let m) = $0 { return m.contains("own shard") } else { return false }
    }
  }

  func testAPredecessorThatClosesMidChunkIsUnreachableAtOnce() throws {
    let start = Date()
    try assertPredecessor(sends: Array(chunk(offset: 0).prefix(40)), closeAfter: true, timeout: 30)
    {
      if case .unreachable(1, let m) = $0 { return m.contains("closed") } else { return false }
    }
    XCTAssertLessThan(
      Date().timeIntervalSince(start), 10, "waited for the timeout instead of seeing the close")
  }

  func testASilentPredecessorTimesOut() throws {
    try assertPredecessor(sends: [], timeout: 0.5) {
      if case .timeout(1, _, 0.5) = $0 { return true } else { return false }
    }
  }

  /// A neighbour that sends a byte now and then is as good as silent: the timeout counts whole
  /// chunks, not bytes.
  func testATricklingPredecessorTimesOut() throws {
    try assertPredecessor(sends: Array(chunk(offset: 0).prefix(40)), trickle: true, timeout: 0.5) {
      if case .timeout(1, _, 0.5) = $0 { return true } else { return false }
    }
  }

  /// A member of this very collective with another chunk grid cannot be understood: the set-up
  /// says so instead of failing chunk by chunk.
  func testAHelloOfAnotherGridFailsTheSetUp() throws {
    let mine = try StreamListener(host: "127.0.0.1")
    let deadline = DispatchTime.now().uptimeNanoseconds + 5_000_000_000
    let peer = try StreamSocket.connect(to: mine.endpoint, deadline: deadline, peer: 0)
    try writeAll(peer, helloBytes(collectiveID: 7, rank: 1, world: 2, chunkElements: 99))
    XCTAssertThrowsTransportError(
      try mine.acceptPredecessor(
        StreamHello(collectiveID: 7, senderRank: 1, worldSize: 2, chunkElements: 16), timeout: 5,
        cancellation: nil, operation: "test")
    ) {
      if case .malformed(1, let m) = $0 { return m.contains("chunks of 99") } else { return false }
    }
  }

  func testBadOptionsAreRefusedBeforeAnythingConnects() throws {
    for (rank, world, chunk, timeout) in [
      (2, 2, 1024, 1.0), (0, 0, 1024, 1.0), (0, 2, 2, 1.0), (0, 2, 128 << 20, 1.0), (0, 2, 1024, 0),
      (0, 2, 1024, .infinity), (0, 2, 1024, .nan),
    ] {
      XCTAssertThrowsTransportError(
        try StreamRing(
          listener: nil, nextEndpoint: nil,
          options: .init(rank: rank, worldSize: world, chunkBytes: chunk, timeout: timeout))
      ) {
        if case .invalidArgument = $0 { return true } else { return false }
      }
    }
  }

  func testCancellationEndsTheWait() throws {
    let mine = try StreamListener(host: "127.0.0.1")
    let cancellation = Cancellation()
    cancellation.cancel()
    XCTAssertThrowsTransportError(
      try mine.acceptPredecessor(
        StreamHello(collectiveID: 7, senderRank: 1, worldSize: 2, chunkElements: 16), timeout: 30,
        cancellation: cancellation, operation: "test")
    ) {
      if case .cancelled = $0 { return true } else { return false }
    }
  }
}

// MARK: Helpers

/// Sets up a stream ring of `n` rank threads (each its own listener, as processes would have)
/// and runs `body` on each.
func withStreamRing<T: Sendable>(
  ranks n: Int, chunkBytes: Int, timeout: Double = 10, listeners: [StreamListener]? = nil,
  _ body: @escaping @Sendable (Int, StreamRing) throws -> T
) -> [Result<T, any Error>] {
  let barrier = ThreadBarrier(parties: n)
  let board = Board(n)
  let given = listeners.map(StreamListenerBox.init)
  return RankThreads.run(n) { rank -> T in
    do {
      let listener = try given?.listeners[rank] ?? (n > 1 ? StreamListener(host: "127.0.0.1") : nil)
      board.set(rank, listener?.endpoint ?? "")
      try barrier.wait(timeout: 10)
      let ring = try StreamRing(
        listener: listener, nextEndpoint: n > 1 ? board.get((rank + 1) % n) : nil,
        options: .init(
          rank: rank, worldSize: n, collectiveID: 7, chunkBytes: chunkBytes, timeout: timeout))
      defer { ring.close() }
      return try body(rank, ring)
    } catch {
      barrier.breakBarrier()
      throw error
    }
  }
}

private final class StreamListenerBox: @unchecked Sendable {
  let listeners: [StreamListener]
  init(_ listeners: [StreamListener]) { self.listeners = listeners }
}

private final class ResultBox: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Result<Void, any Error>?
  func set(_ v: Result<Void, any Error>) {
    lock.lock()
    value = v
    lock.unlock()
  }
  func get() -> Result<Void, any Error>? {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}

private func helloBytes(
  collectiveID: UInt64, rank: Int, world: Int, chunkElements: Int,
  version: UInt32 = DLPProtocol.version
) -> [UInt8] {
  var hello = StreamHello(
    collectiveID: collectiveID, senderRank: rank, worldSize: world, chunkElements: chunkElements)
  hello.version = version
  var bytes = [UInt8](repeating: 0, count: StreamHello.size)
  bytes.withUnsafeMutableBytes { hello.pack(into: $0.baseAddress!) }
  return bytes
}

/// Writes every byte (the socket is non-blocking: waits for room with poll).
private func writeAll(_ socket: StreamSocket, _ bytes: [UInt8]) throws {
  var bytes = bytes
  var sent = 0
  while sent < bytes.count {
    let n = try bytes.withUnsafeMutableBytes { b -> Int in
      var iov = iovec(iov_base: b.baseAddress! + sent, iov_len: b.count - sent)
      return try socket.send(&iov, count: 1, peer: 0)
    }
    sent += n
    if n == 0 {
      var item = pollfd(fd: socket.fd, events: Int16(POLLOUT), revents: 0)
      _ = poll(&item, 1, 100)
    }
  }
}
