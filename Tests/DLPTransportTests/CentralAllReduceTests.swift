import DLPTransport
import Foundation
import XCTest

final class CentralAllReduceTests: XCTestCase {
  func testClosedFormSumForEveryRankCountAndTransport() throws {
    for transport in TestTransport.allCases {
      for n in 1...4 {
        for count in [0, 1, 3, 5, 257, 4099] {
          let results = runCollective(
            .central, ranks: n, transport: transport, count: count, chunkBytes: 64
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

  func testSumIsInRankOrderAndBitwiseIdentical() throws {
    let n = 4
    let count = 5003
    let results = runCollective(
      .central, ranks: n, transport: .tcp, count: count, chunkBytes: 512, steps: 3
    ) {
      randomInput(rank: $0, count: count)
    }
    let buffers = try results.map { try $0.get() }
    let inputs = (0..<n).map { randomInput(rank: $0, count: count) }
    for i in 0..<count {
      var sum = inputs[0][i]
      for r in 1..<n { sum += inputs[r][i] }
      XCTAssertEqual(buffers[0][i].bitPattern, sum.bitPattern, "element \(i)")
    }
    for rank in 1..<n {
      XCTAssertEqual(buffers[rank].map(\.bitPattern), buffers[0].map(\.bitPattern))
    }
  }

  func testReduceAndBroadcastWithANonContributingRoot() throws {
    let n = 3  // a coordinator (rank 0, no gradients) and two workers
    let count = 50
    let shared = try ZMQContext()
    let barrier = ThreadBarrier(parties: n)
    let board = Board(n)
    let tag = UUID().uuidString
    let results = RankThreads.run(n) { rank -> [Float] in
      let options = CentralAllReduce.Options(
        rank: rank, worldSize: n, chunkBytes: 40, timeout: 10, rootContributes: false)
      let c: CentralAllReduce
      if rank == 0 {
        c = try CentralAllReduce(
          context: shared, endpoint: "inproc://coord-\(tag)", options: options)
        board.set(0, c.endpoint!)
        try barrier.wait()
      } else {
        try barrier.wait()
        c = try CentralAllReduce(context: shared, endpoint: board.get(0), options: options)
      }
      if rank == 0 {
        var sum = [Float](repeating: .nan, count: count)  // ignored: the root does not contribute
        try sum.withUnsafeMutableBufferPointer { try c.reduce($0, step: 4) }
        var weights = sum.map { 1 - $0 }  // the coordinator's optimizer step
        try weights.withUnsafeMutableBufferPointer { try c.broadcast($0, step: 4) }
        return sum
      } else {
        var gradients = (0..<count).map { Float(rank * 1000 + $0) }
        try gradients.withUnsafeMutableBufferPointer { try c.reduce($0, step: 4) }
        var weights = [Float](repeating: 0, count: count)
        try weights.withUnsafeMutableBufferPointer { try c.broadcast($0, step: 4) }
        return weights
      }
    }
    let sum = try results[0].get()
    for i in 0..<count { XCTAssertEqual(sum[i], Float(3000 + 2 * i)) }
    for r in 1..<n { XCTAssertEqual(try results[r].get(), sum.map { 1 - $0 }) }
  }

  func testSilentLeafTimesOutNamingIt() throws {
    let context = try ZMQContext()
    let root = try CentralAllReduce(
      context: context, endpoint: "tcp://127.0.0.1:*",
      options: .init(rank: 0, worldSize: 3, timeout: 0.3))
    // Rank 1 contributes, rank 2 connects but never sends.
    let leaf1 = try CentralAllReduce(
      context: context, endpoint: root.endpoint!,
      options: .init(rank: 1, worldSize: 3, timeout: 0.3))
    _ = try CentralAllReduce(
      context: context, endpoint: root.endpoint!,
      options: .init(rank: 2, worldSize: 3, timeout: 0.3))
    var b1 = [Float](repeating: 1, count: 100)
    try b1.withUnsafeMutableBufferPointer { try leaf1.reduce($0, step: 0) }
    var b0 = [Float](repeating: 1, count: 100)
    XCTAssertThrowsTransportError(
      try b0.withUnsafeMutableBufferPointer { try root.run($0, step: 0) }
    ) {
      if case .timeout(peer: 2, _, _) = $0 { return true } else { return false }
    }
  }

  func testLeafWaitingForADeadRootTimesOut() throws {
    let context = try ZMQContext()
    let root = try ZMQSocket(context: context, kind: .router)
    let endpoint = try root.bind("tcp://127.0.0.1:*")
    let leaf = try CentralAllReduce(
      context: context, endpoint: endpoint, options: .init(rank: 1, worldSize: 2, timeout: 0.3))
    var b = [Float](repeating: 1, count: 100)
    XCTAssertThrowsTransportError(
      try b.withUnsafeMutableBufferPointer { try leaf.run($0, step: 0) }
    ) {
      if case .timeout(peer: 0, _, _) = $0 { return true } else { return false }
    }
  }

  func testStrangerIsDroppedAndTheReduceCompletes() throws {
    let context = try ZMQContext()
    let root = try CentralAllReduce(
      context: context, endpoint: "tcp://127.0.0.1:*",
      options: .init(rank: 0, worldSize: 2, timeout: 5))
    let stranger = try ZMQSocket(
      context: context, kind: .dealer, options: .init(routingID: Array("mallory".utf8)))
    try stranger.connect(root.endpoint!)
    try stranger.send([1, 2, 3], more: true)
    try stranger.send([4])
    // A stranger impersonating a rank's header is still not that rank.
    try MessageCodec(rank: 1).send(
      Message.collectiveChunk(.reduceChunk), on: stranger, payload: nil)
    let leaf = try CentralAllReduce(
      context: context, endpoint: root.endpoint!, options: .init(rank: 1, worldSize: 2, timeout: 5))
    let results = RankThreads.run(2) { rank -> [Float] in
      var b = [Float](repeating: Float(rank + 1), count: 10)
      try b.withUnsafeMutableBufferPointer { try (rank == 0 ? root : leaf).run($0, step: 0) }
      return b
    }
    XCTAssertEqual(try results[0].get(), [Float](repeating: 3, count: 10))
    XCTAssertEqual(try results[1].get(), [Float](repeating: 3, count: 10))
  }

  func testGarbageFromAKnownRankIsAnErrorNamingIt() throws {
    let context = try ZMQContext()
    let root = try CentralAllReduce(
      context: context, endpoint: "tcp://127.0.0.1:*",
      options: .init(rank: 0, worldSize: 2, timeout: 5))
    let fake = try ZMQSocket(
      context: context, kind: .dealer, options: .init(routingID: Array("dlp-rank-1".utf8)))
    try fake.connect(root.endpoint!)
    try fake.send([0x08, 0x63], more: true)  // version 99
    try fake.send([])
    var b0 = [Float](repeating: 1, count: 10)
    XCTAssertThrowsTransportError(
      try b0.withUnsafeMutableBufferPointer { try root.run($0, step: 0) }
    ) {
      $0 == .versionMismatch(peer: 1, expected: DLPProtocol.version, got: 99)
    }
  }
}
