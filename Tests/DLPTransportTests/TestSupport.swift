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

/// Sets up a ring of `n` rank threads and runs `body` on each with its ring. Over tcp each rank
/// has its own ZeroMQ context, as processes would; `listeners` (one per rank, bound beforehand,
/// e.g. so strangers can reach them first) replace the ones made here.
func withRing<T: Sendable>(
  ranks n: Int, transport: TestTransport = .tcp, chunkBytes: Int = 1024, timeout: Double = 10,
  jobID: UInt64 = 7, listeners: [CollectiveListener]? = nil,
  _ body: @escaping @Sendable (Int, RingAllReduce) throws -> T
) -> [Result<T, any Error>] {
  let shared = try! ZMQContext()
  let barrier = ThreadBarrier(parties: n)
  let board = Board(n)
  let tag = UUID().uuidString
  let given = listeners.map(ListenerBox.init)
  return RankThreads.run(n) { rank -> T in
    do {
      let listener: CollectiveListener?
      let context: ZMQContext
      if let given {
        listener = given.listeners[rank]
        context = listener!.socket.context
      } else {
        context = transport == .inproc ? shared : try ZMQContext()
        let bind = transport == .inproc ? "inproc://ring-\(tag)-\(rank)" : "tcp://127.0.0.1:*"
        listener =
          n > 1
          ? try CollectiveListener(context: context, bind: bind, maxChunkBytes: chunkBytes) : nil
      }
      board.set(rank, listener?.endpoint ?? "")
      try barrier.wait(timeout: 10)
      let ring = try RingAllReduce(
        context: context, listener: listener,
        nextEndpoint: n > 1 ? board.get((rank + 1) % n) : nil,
        options: .init(
          rank: rank, worldSize: n, jobID: jobID, chunkBytes: chunkBytes, timeout: timeout))
      defer { ring.close() }
      return try body(rank, ring)
    } catch {
      barrier.breakBarrier()
      throw error
    }
  }
}

private final class ListenerBox: @unchecked Sendable {
  let listeners: [CollectiveListener]
  init(_ listeners: [CollectiveListener]) { self.listeners = listeners }
}

/// A one-shot signal between test threads (explicit ordering, no sleeps).
final class Signal: @unchecked Sendable {
  private let semaphore = DispatchSemaphore(value: 0)
  func raise() { semaphore.signal() }
  /// Waits for `raise`; false after `timeout` seconds.
  func wait(timeout: Double = 10) -> Bool { semaphore.wait(timeout: .now() + timeout) == .success }
}

/// This process's resident set size in bytes (`/proc/self/statm`), nil where there is none.
func residentBytes() -> Int? {
  guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) else {
    return nil
  }
  let fields = text.split(separator: " ")
  guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
  return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
}
