import DLPTransport
import Foundation
import XCTest

final class RingAllReduceTests: XCTestCase {
  /// Sizes that divide by N, that do not, and that are smaller than N (empty shards), and
  /// sizes around chunk boundaries (the closed-form test streams 16-element chunks: shards of
  /// 15, 16 and 17 elements for 1-4 ranks).
  static let counts = [
    0, 1, 2, 3, 5, 12, 257, 1000, 4099, 15, 16, 17, 47, 48, 49, 63, 64, 65, 4096,
  ]

  func testClosedFormSumForEveryRankCountAndTransport() throws {
    for transport in TestTransport.allCases {
      for n in 1...4 {
        for count in Self.counts {
          let results = runCollective(
            .ring, ranks: n, transport: transport, count: count, chunkBytes: 64
          ) {
            closedFormInput(rank: $0, count: count)
          }
          for (rank, result) in results.enumerated() {
            guard case .success(let buffer) = result else {
              XCTFail("\(transport) n=\(n) count=\(count) rank \(rank): \(result)")
              continue
            }
            for i in 0..<count where buffer[i] != closedFormSum(ranks: n, index: i) {
              XCTFail("\(transport) n=\(n) count=\(count) rank \(rank) element \(i): \(buffer[i])")
              break
            }
          }
        }
      }
    }
  }

  func testResultsAreBitwiseIdenticalAcrossRanks() throws {
    for n in 2...4 {
      let count = 10_007
      let results = runCollective(
        .ring, ranks: n, transport: .tcp, count: count, chunkBytes: 4096, steps: 3
      ) {
        randomInput(rank: $0, count: count)
      }
      let buffers = try results.map { try $0.get() }
      let inputs = (0..<n).map { randomInput(rank: $0, count: count) }
      for rank in 1..<n {
        XCTAssertEqual(
          buffers[rank].map(\.bitPattern), buffers[0].map(\.bitPattern), "n=\(n) rank \(rank)")
      }
      for i in stride(from: 0, to: count, by: 97) {
        let exact = inputs.reduce(0.0) { $0 + Double($1[i]) }
        XCTAssertEqual(Double(buffers[0][i]), exact, accuracy: 1e-4 * max(1, abs(exact)))
      }
    }
  }

  func testReduceScatterThenAllGatherLikeZeRO1() throws {
    let n = 3
    let count = 100
    let shared = try ZMQContext()
    let barrier = ThreadBarrier(parties: n)
    let board = Board(n)
    let tag = UUID().uuidString
    let results = RankThreads.run(n) { rank -> ([Float], [Float], Range<Int>) in
      let listener = try CollectiveListener(context: shared, bind: "inproc://zero1-\(tag)-\(rank)")
      board.set(rank, listener.endpoint)
      try barrier.wait(timeout: 10)
      let ring = try RingAllReduce(
        context: shared, listener: listener, nextEndpoint: board.get((rank + 1) % n),
        options: .init(rank: rank, worldSize: n, chunkBytes: 16, timeout: 10))
      var gradients = closedFormInput(rank: rank, count: count)
      let owned = try gradients.withUnsafeMutableBufferPointer {
        try ring.reduceScatter($0, step: 1)
      }
      // "Optimizer": the new weights of the owned shard are minus the summed gradient.
      var weights = [Float](repeating: .nan, count: count)
      for i in owned { weights[i] = -gradients[i] }
      try weights.withUnsafeMutableBufferPointer { try ring.allGather($0, step: 1) }
      return (gradients, weights, owned)
    }
    var covered = 0
    for (rank, result) in results.enumerated() {
      let (gradients, weights, owned) = try result.get()
      XCTAssertEqual(owned, ShardPlan(count: count, parts: n).range(rank))
      covered += owned.count
      for i in owned { XCTAssertEqual(gradients[i], closedFormSum(ranks: n, index: i)) }
      for i in 0..<count { XCTAssertEqual(weights[i], -closedFormSum(ranks: n, index: i)) }
    }
    XCTAssertEqual(covered, count)
  }

  func testManySuccessiveStepsStayInSync() throws {
    let results = runCollective(
      .ring, ranks: 3, transport: .tcp, count: 333, chunkBytes: 128, steps: 20
    ) {
      closedFormInput(rank: $0, count: 333)
    }
    for r in results {
      let b = try r.get()
      XCTAssertEqual(b[100], closedFormSum(ranks: 3, index: 100))
    }
  }

  func testSilentPeerTimesOutNamingIt() throws {
    let context = try ZMQContext()
    // Rank 1 binds its listener but never runs: rank 0 must give up, blaming rank 1.
    let l0 = try CollectiveListener(context: context)
    let l1 = try CollectiveListener(context: context)
    let ring = try RingAllReduce(
      context: context, listener: l0, nextEndpoint: l1.endpoint,
      options: .init(rank: 0, worldSize: 2, timeout: 0.3))
    var buffer = [Float](repeating: 1, count: 1000)
    let start = Date()
    XCTAssertThrowsTransportError(
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 0) }
    ) {
      if case .timeout(peer: 1, _, 0.3) = $0 { return true } else { return false }
    }
    XCTAssertLessThan(Date().timeIntervalSince(start), 5)
    // A broken ring says so instead of running out of step.
    XCTAssertThrowsTransportError(
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 1) }
    ) {
      if case .invalidArgument = $0 { return true } else { return false }
    }
  }

  func testGarbageFromAStrangerIsDroppedNotFatal() throws {
    let contexts = try (0..<2).map { _ in try ZMQContext() }
    let listeners = try contexts.map { try CollectiveListener(context: $0) }
    let rogue = try ZMQSocket(context: contexts[0], kind: .push)
    try rogue.connect(listeners[0].endpoint)
    try rogue.send(Array("GET / HTTP/1.1\r\n".utf8), more: true)
    try rogue.send([0xDE, 0xAD])
    let results = withRing(ranks: 2, listeners: listeners) { rank, ring -> Int in
      // The rogue's message is queued before the ring reads anything.
      guard try rank == 1 || listeners[0].socket.waitReadable(timeout: 10) else {
        throw TransportError.invalidArgument("the rogue's message never arrived")
      }
      var buffer = [Float](repeating: Float(rank + 1), count: 10)
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 0, tensorID: 0) }
      XCTAssertEqual(buffer, [Float](repeating: 3, count: 10))
      return ring.droppedMessages
    }
    XCTAssertEqual(try results[0].get(), 1)
    XCTAssertEqual(try results[1].get(), 0)
  }

  /// A chunk that names our job and our predecessor but is wrong is not a stranger's: the
  /// predecessor is broken or out of step, and the ring fails naming it.
  func testWellFormedChunkWithHostileOffsetIsRefused() throws {
    let context = try ZMQContext()
    let l0 = try CollectiveListener(context: context)
    let l1 = try CollectiveListener(context: context)
    let ring = try RingAllReduce(
      context: context, listener: l0, nextEndpoint: l1.endpoint,
      options: .init(rank: 0, worldSize: 2, timeout: 5))
    let rogue = try ZMQSocket(context: context, kind: .push)
    try rogue.connect(l0.endpoint)
    let header = MessageHeader(
      jobID: 0, step: 0, kind: .reduceScatterChunk, senderRank: 1, offset: .max, length: 1)
    try rogue.send(header.packed(), more: true)
    try rogue.send([], more: true)
    try rogue.send([0, 0, 0, 0])
    var buffer = [Float](repeating: 1, count: 10)
    XCTAssertThrowsTransportError(
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 0) }
    ) {
      if case .malformed(peer: 1, _) = $0 { return true } else { return false }
    }
  }

  func testPeerInAnotherStepIsDetected() throws {
    let shared = try ZMQContext()
    let tag = UUID().uuidString
    let l0 = try CollectiveListener(context: shared, bind: "inproc://step-\(tag)-0")
    let l1 = try CollectiveListener(context: shared, bind: "inproc://step-\(tag)-1")
    let results = RankThreads.run(2) { rank -> Void in
      let ring = try RingAllReduce(
        context: shared, listener: rank == 0 ? l0 : l1,
        nextEndpoint: rank == 0 ? l1.endpoint : l0.endpoint,
        options: .init(rank: rank, worldSize: 2, timeout: 1))
      var buffer = [Float](repeating: 1, count: 64)
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: UInt64(rank)) }
    }
    for (rank, r) in results.enumerated() {
      XCTAssertThrowsTransportError(try r.get()) {
        if case .unexpectedStep(peer: 1 - rank, expected: UInt64(rank), got: UInt64(1 - rank)) = $0
        {
          return true
        }
        return false
      }
    }
  }

  func testCancellation() throws {
    let context = try ZMQContext()
    let l0 = try CollectiveListener(context: context)
    let l1 = try CollectiveListener(context: context)
    let cancel = Cancellation()
    let ring = try RingAllReduce(
      context: context, listener: l0, nextEndpoint: l1.endpoint,
      options: .init(rank: 0, worldSize: 2, timeout: 60, cancellation: cancel))
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { cancel.cancel() }
    var buffer = [Float](repeating: 1, count: 10)
    XCTAssertThrowsTransportError(
      try buffer.withUnsafeMutableBufferPointer { try ring.run($0, step: 0) }
    ) {
      if case .cancelled = $0 { return true } else { return false }
    }
  }

  func testInvalidSetup() throws {
    let context = try ZMQContext()
    XCTAssertThrowsTransportError(
      try RingAllReduce(
        context: context, listener: nil, nextEndpoint: nil, options: .init(rank: 2, worldSize: 2))
    ) { if case .invalidArgument = $0 { return true } else { return false } }
    XCTAssertThrowsTransportError(
      try RingAllReduce(
        context: context, listener: nil, nextEndpoint: nil, options: .init(rank: 0, worldSize: 2))
    ) { if case .invalidArgument = $0 { return true } else { return false } }
    let listener = try CollectiveListener(context: context, maxChunkBytes: 1024)
    XCTAssertThrowsTransportError(
      try RingAllReduce(
        context: context, listener: listener, nextEndpoint: listener.endpoint,
        options: .init(rank: 0, worldSize: 2, chunkBytes: 4096))
    ) { if case .invalidArgument = $0 { return true } else { return false } }
  }

  func testAdvertisedEndpoint() throws {
    let listener = try CollectiveListener(context: try ZMQContext(), bind: "tcp://*:*")
    let port = listener.endpoint.split(separator: ":").last!
    XCTAssertEqual(listener.advertisedEndpoint(host: "node7"), "tcp://node7:\(port)")
  }
}
