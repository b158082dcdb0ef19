import CZMQ
import DLPTransport
import Foundation
import XCTest

/// The shared-memory collective's set-up round over CURVE: each rank a server to its peers'
/// senders and a client of theirs, as a secured job's workers are.
final class SharedMemoryCurveTests: XCTestCase {
  func testASecuredSetUpSumsAsAPlainOne() throws {
    let n = 3
    let pairs = try (0..<n).map { _ in try CurveKeyPair.generate() }
    let barrier = ThreadBarrier(parties: n)
    let board = Board(n)
    let job = UInt64.random(in: 1...UInt64.max)
    let results = RankThreads.run(n) { rank -> [Float] in
      let context = try ZMQContext()
      let security = try SocketSecurity(context: context, options: .curve(CurveCredentials(keyPair: pairs[rank])))
      for q in 0..<n where q != rank { security.authorize(pairs[q].publicKey, name: "rank \(q)") }
      let listener = try CollectiveListener(context: context, curve: security.serverRole)
      board.set(rank, listener.endpoint)
      try barrier.wait(timeout: 10)
      var o = SharedMemoryAllReduce.Options(
        rank: rank, worldSize: n, jobID: job, capacity: 100, timeout: 10, segmentPrefix: "dlp-curve")
      o.curve = (pairs[rank], pairs.map(\.publicKey))
      let c = try SharedMemoryAllReduce(
        context: context, listener: listener, endpoints: (0..<n).map(board.get), options: o)
      defer { c.close() }
      var b = closedFormInput(rank: rank, count: 100)
      try b.withUnsafeMutableBufferPointer { try c.run($0, step: 1) }
      return b
    }
    for (rank, r) in results.enumerated() {
      let b = try r.get()
      for i in 0..<100 { XCTAssertEqual(b[i], closedFormSum(ranks: n, index: i), "rank \(rank) element \(i)") }
    }
  }
}
