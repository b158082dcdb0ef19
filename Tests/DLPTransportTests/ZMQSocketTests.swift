import Foundation
import DLPTransport
import XCTest

final class ZMQSocketTests: XCTestCase {
  /// A zero timeout asks "is anything queued now?" and must see a message that is there (the
  /// handshake monitor's `failure()` and the coordinator's non-blocking report reads rely on
  /// it; it used to return false without looking).
  func testAZeroTimeoutSeesWhatIsQueued() throws {
    let context = try ZMQContext()
    let pull = try ZMQSocket(context: context, kind: .pull)
    let endpoint = try pull.bind("inproc://zero-timeout-\(UUID().uuidString)")
    let push = try ZMQSocket(context: context, kind: .push)
    try push.connect(endpoint)
    XCTAssertFalse(try pull.waitReadable(timeout: 0))
    try push.send([1, 2, 3])
    XCTAssertTrue(try pull.waitReadable(timeout: 5))
    XCTAssertTrue(try pull.waitReadable(timeout: 0), "a zero timeout missed a queued message")
    XCTAssertEqual(try pull.receiveMultipart(timeout: 0).map(\.array), [[1, 2, 3]])
  }

  func testEphemeralBindReportsThePort() throws {
    let context = try ZMQContext()
    let s = try ZMQSocket(context: context, kind: .pull)
    let endpoint = try s.bind("tcp://127.0.0.1:*")
    XCTAssertTrue(endpoint.hasPrefix("tcp://127.0.0.1:"))
    XCTAssertNotEqual(endpoint, "tcp://127.0.0.1:*")
    XCTAssertEqual(try s.lastEndpoint(), endpoint)
  }

  func testBindFailureIsAnError() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull)
    let endpoint = try a.bind("tcp://127.0.0.1:*")
    let b = try ZMQSocket(context: context, kind: .pull)
    XCTAssertThrowsTransportError(try b.bind(endpoint)) {
      if case .zmq(let op, _, let text) = $0 {
        return op.contains("zmq_bind") && !text.isEmpty
      } else {
        return false
      }
    }
    XCTAssertThrowsTransportError(try b.connect("nonsense://x")) {
      if case .zmq = $0 { return true } else { return false }
    }
  }

  func testReceiveTimesOutNamingThePeer() throws {
    let context = try ZMQContext()
    let s = try ZMQSocket(context: context, kind: .pull)
    s.peerRank = 3
    _ = try s.bind("tcp://127.0.0.1:*")
    let start = Date()
    XCTAssertThrowsTransportError(try s.receiveMultipart(timeout: 0.2)) {
      $0 == .timeout(peer: 3, operation: "receive", seconds: 0.2)
    }
    XCTAssertLessThan(Date().timeIntervalSince(start), 2)
  }

  func testCancellationInterruptsAWait() throws {
    let context = try ZMQContext()
    let s = try ZMQSocket(context: context, kind: .pull)
    _ = try s.bind("tcp://127.0.0.1:*")
    let cancel = Cancellation()
    DispatchQueue.global().asyncAfter(deadline: .now() + 0.1) { cancel.cancel() }
    XCTAssertThrowsTransportError(try s.receiveMultipart(timeout: 30, cancellation: cancel)) {
      if case .cancelled = $0 { return true } else { return false }
    }
  }

  func testReceiveFloatsIntoAPreallocatedBuffer() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull)
    let b = try ZMQSocket(context: context, kind: .push)
    try b.connect(try a.bind("tcp://127.0.0.1:*"))
    let values: [Float] = (0..<1000).map { Float($0) * 0.25 }
    try values.withUnsafeBytes { try b.send($0) }
    var out = [Float](repeating: 0, count: 1000)
    let n = try out.withUnsafeMutableBufferPointer { try a.receiveFloats(into: $0, timeout: 5) }
    XCTAssertEqual(n, 1000)
    XCTAssertEqual(out, values)
    // Too big for the buffer: refused, and the socket stays at a message boundary.
    try values.withUnsafeBytes { try b.send($0, more: true) }
    try b.send([1, 2, 3, 4])
    try b.send([0, 0, 0x80, 0x3F])  // 1.0
    var small = [Float](repeating: 0, count: 10)
    XCTAssertThrowsTransportError(
      try small.withUnsafeMutableBufferPointer { try a.receiveFloats(into: $0, timeout: 5) }
    ) {
      if case .tooLarge(_, 4000, 40) = $0 { return true } else { return false }
    }
    XCTAssertEqual(
      try small.withUnsafeMutableBufferPointer { try a.receiveFloats(into: $0, timeout: 5) }, 1)
    XCTAssertEqual(small[0], 1)
  }

  func testZeroCopySendIsTrackedUntilReleased() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull)
    let b = try ZMQSocket(context: context, kind: .push)
    try b.connect(try a.bind("tcp://127.0.0.1:*"))
    let tracker = ZeroCopyTracker()
    let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: 1 << 20)
    defer { buffer.deallocate() }
    for i in 0..<buffer.count { buffer[i] = Float(i) }
    try b.sendZeroCopy(UnsafeRawBufferPointer(buffer), tracker: tracker)
    let m = ZMQMessage()
    try a.receiveFrame(into: m, timeout: 5)
    XCTAssertEqual(m.count, buffer.count * 4)
    XCTAssertTrue(tracker.waitUntilDrained(timeout: 5))
    XCTAssertEqual(tracker.pending, 0)
    m.bytes.withMemoryRebound(to: Float.self) { XCTAssertEqual($0[12345], 12345) }
  }

  func testPollReportsReadableSockets() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull)
    let c = try ZMQSocket(context: context, kind: .pull)
    let b = try ZMQSocket(context: context, kind: .push)
    try b.connect(try a.bind("tcp://127.0.0.1:*"))
    _ = try c.bind("tcp://127.0.0.1:*")
    XCTAssertEqual(try ZMQSocket.poll([a, c], timeout: 0.05), [false, false])
    try b.send([1])
    XCTAssertTrue(try a.waitReadable(timeout: 5))
    XCTAssertEqual(try ZMQSocket.poll([a, c], timeout: 1), [true, false])
  }

  func testClosedSocketThrows() throws {
    let s = try ZMQSocket(context: try ZMQContext(), kind: .push)
    s.close()
    XCTAssertTrue(s.isClosed)
    XCTAssertThrowsTransportError(try s.send([1])) {
      if case .invalidArgument = $0 { return true } else { return false }
    }
  }
}
