import DLPTransport
import Foundation
import XCTest

/// Where test ranks talk.
enum TestTransport: CaseIterable {
  case tcp, inproc
}

/// Runs an all-reduce among `n` rank threads, each starting from `input(rank)`, and returns
/// each rank's buffer afterwards (or its error).
func runCollective(
  _ kind: CollectiveKind, ranks n: Int, transport: TestTransport, count: Int,
  chunkBytes: Int = 1024,
  timeout: Double = 10, steps: Int = 1, input: @escaping @Sendable (Int) -> [Float]
) -> [Result<[Float], any Error>] {
  let shared = try! ZMQContext()
  let barrier = ThreadBarrier(parties: n)
  let board = Board(n)
  let tag = UUID().uuidString
  return RankThreads.run(n) { rank -> [Float] in
    do {
      let context = transport == .inproc ? shared : try ZMQContext()
      let bind = transport == .inproc ? "inproc://test-\(tag)-\(rank)" : "tcp://127.0.0.1:*"
      let collective: AllReduceCollective
      switch kind {
      case .ring:
        let listener = n > 1 ? try CollectiveListener(context: context, bind: bind) : nil
        board.set(rank, listener?.endpoint ?? "")
        try barrier.wait(timeout: 10)
        collective = try RingAllReduce(
          context: context, listener: listener,
          nextEndpoint: n > 1 ? board.get((rank + 1) % n) : nil,
          options: .init(
            rank: rank, worldSize: n, jobID: 7, chunkBytes: chunkBytes, timeout: timeout))
      case .central:
        let options = CentralAllReduce.Options(
          rank: rank, worldSize: n, jobID: 7, chunkBytes: chunkBytes, timeout: timeout)
        if rank == 0 {
          let root = try CentralAllReduce(context: context, endpoint: bind, options: options)
          board.set(0, root.endpoint ?? "")
          try barrier.wait(timeout: 10)
          collective = root
        } else {
          try barrier.wait(timeout: 10)
          collective = try CentralAllReduce(
            context: context, endpoint: board.get(0), options: options)
        }
      }
      defer { collective.close() }
      var buffer = input(rank)
      precondition(buffer.count == count)
      for step in 0..<steps {
        if step > 0 { buffer = input(rank) }
        try buffer.withUnsafeMutableBufferPointer {
          try collective.run($0, step: UInt64(step), tensorID: 3)
        }
      }
      return buffer
    } catch {
      barrier.breakBarrier()
      throw error
    }
  }
}

final class Board: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [String]
  init(_ n: Int) { values = Array(repeating: "", count: n) }
  func set(_ i: Int, _ v: String) {
    lock.lock()
    values[i] = v
    lock.unlock()
  }
  func get(_ i: Int) -> String {
    lock.lock()
    defer { lock.unlock() }
    return values[i]
  }
}

/// Values whose sum over ranks has a closed form and is exact in float32.
func closedFormInput(rank: Int, count: Int) -> [Float] {
  (0..<count).map { i in Float(rank + 1) * 0.5 + Float(i % 13) }
}

func closedFormSum(ranks n: Int, index i: Int) -> Float {
  0.5 * Float(n * (n + 1) / 2) + Float(n * (i % 13))
}

/// Seeded pseudo-random floats (sums are not exact: used for the bitwise-identity check).
func randomInput(rank: Int, count: Int) -> [Float] {
  var state = UInt64(rank + 1) &* 0x9E37_79B9_7F4A_7C15
  return (0..<count).map { _ in
    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
    return Float(Int64(bitPattern: state >> 11) % 2_000_001 - 1_000_000) / 77_777.7
  }
}

func XCTAssertThrowsTransportError(
  _ expression: @autoclosure () throws -> some Any, _ message: String = "",
  file: StaticString = #filePath,
  line: UInt = #line, _ check: (TransportError) -> Bool
) {
  do {
    _ = try expression()
    XCTFail("expected a TransportError \(message)", file: file, line: line)
  } catch let error as TransportError {
    XCTAssertTrue(check(error), "unexpected error \(error) \(message)", file: file, line: line)
  } catch {
    XCTFail("expected a TransportError, got \(error) \(message)", file: file, line: line)
  }
}
