import XCTest

@testable import DLPTransport

/// Whatever a peer sends, decoding throws the right `TransportError` and never traps.
final class MessageCodecHostileInputTests: XCTestCase {
  let codec = MessageCodec(
    jobID: 5, rank: 0, limits: .init(maxBodyBytes: 1 << 16, maxPayloadBytes: 1 << 20))

  private func frames(_ header: MessageHeader, body: [UInt8] = [], payload: [UInt8]? = nil)
    -> [[UInt8]]
  {
    var f = [header.packed(), body]
    if let payload { f.append(payload) }
    return f
  }

  private func chunkHeader(
    length: UInt64 = 2, payloadBytes: UInt64? = nil, version: UInt32 = DLPProtocol.version
  )
    -> MessageHeader
  {
    MessageHeader(
      version: version, jobID: 5, step: 3, kind: .reduceScatterChunk, senderRank: 1, length: length,
      payloadBytes: payloadBytes)
  }

  private func assertMalformed(
    _ frames: [[UInt8]], _ why: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsTransportError(
      try codec.decode(frames: frames, peer: 1), why, file: file, line: line
    ) {
      if case .malformed(let p, _) = $0 { return p == 1 } else { return false }
    }
  }

  func testTruncatedMessages() {
    let good = codec.encode(HelloMessage(workerID: "x"))
    assertMalformed([], "no frames")
    assertMalformed([good[0]], "header only")
    assertMalformed([Array(good[0].prefix(good[0].count / 2)), good[1]], "truncated header")
    // A body cut short is not a valid Hello (the string's length prefix overruns).
    var hello = HelloMessage(workerID: String(repeating: "w", count: 50)).packed()
    hello.removeLast(10)
    assertMalformed([good[0], hello], "truncated body")
    assertMalformed(frames(chunkHeader(), payload: nil), "payload announced, none came")
    assertMalformed(frames(chunkHeader(), payload: [0, 0, 0, 0]), "payload shorter than announced")
  }

  func testWrongVersion() {
    let other = DLPProtocol.version + 1
    XCTAssertThrowsTransportError(
      try codec.decode(
        frames: frames(chunkHeader(version: other), payload: [UInt8](repeating: 0, count: 8)),
        peer: 4)
    ) {
      $0 == .versionMismatch(peer: 4, expected: DLPProtocol.version, got: other)
    }
    assertMalformed(
      frames(chunkHeader(version: 0), payload: [UInt8](repeating: 0, count: 8)), "no version")
  }

  func testWrongJobStepKindAndSender() {
    let hello = codec.encode(HelloMessage(workerID: "x"), step: 3)
    XCTAssertThrowsTransportError(try codec.decode(frames: hello, expecting: .init(jobID: 6))) {
      $0 == .wrongJob(peer: 0, expected: 6, got: 5)
    }
    XCTAssertThrowsTransportError(
      try codec.decode(frames: hello, expecting: codec.expect(.hello, step: 4), peer: 2)
    ) {
      $0 == .unexpectedStep(peer: 2, expected: 4, got: 3)
    }
    XCTAssertThrowsTransportError(
      try codec.decode(frames: hello, expecting: codec.expect(.welcome, .reject))
    ) {
      $0 == .unexpectedKind(peer: 0, expected: [.welcome, .reject], got: .hello)
    }
    XCTAssertThrowsTransportError(
      try codec.decode(frames: hello, expecting: codec.expect(.hello, from: 3))
    ) {
      if case .malformed = $0 { return true } else { return false }
    }
  }

  func testUnknownKind() throws {
    // Hand-packed header: our version, kind 99 (field 4), which our enum does not know.
    let bytes: [UInt8] = [0x08, UInt8(DLPProtocol.version), 0x20, 99]
    assertMalformed([bytes, []], "unknown kind")
  }

  func testSizeMismatches() {
    assertMalformed(
      frames(chunkHeader(length: 2, payloadBytes: 7), payload: [UInt8](repeating: 0, count: 7)),
      "not whole floats")
    assertMalformed(
      frames(chunkHeader(length: 3, payloadBytes: 8), payload: [UInt8](repeating: 0, count: 8)),
      "length vs bytes")
    assertMalformed(
      frames(chunkHeader(length: 2), payload: [UInt8](repeating: 0, count: 12)),
      "payload longer than announced")
    assertMalformed(
      frames(
        chunkHeader(length: .max / 2, payloadBytes: 8), payload: [UInt8](repeating: 0, count: 8)),
      "overflowing length")
    assertMalformed(
      frames(chunkHeader(), body: [1, 2, 3], payload: [UInt8](repeating: 0, count: 8)),
      "chunk with a body")
    assertMalformed(
      frames(chunkHeader(), payload: [UInt8](repeating: 0, count: 8)) + [[1]], "four frames")
    assertMalformed([[UInt8](repeating: 0x08, count: 200), []], "oversized header")
  }

  func testOverTheSizeCap() {
    let n: UInt64 = (1 << 20) / 4 + 1
    XCTAssertThrowsTransportError(
      try codec.decode(frames: frames(chunkHeader(length: n), payload: []), peer: 1)
    ) {
      if case .tooLarge(1, _, 1 << 20) = $0 { return true } else { return false }
    }
    let body = [UInt8](repeating: 0, count: (1 << 16) + 1)
    let h = MessageHeader(jobID: 5, step: 0, kind: .hello, senderRank: -1)
    XCTAssertThrowsTransportError(try codec.decode(frames: frames(h, body: body), peer: 1)) {
      if case .tooLarge(1, (1 << 16) + 1, 1 << 16) = $0 { return true } else { return false }
    }
  }

  func testRandomBytesNeverTrap() {
    var state: UInt64 = 12345
    func next() -> UInt8 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return UInt8(truncatingIfNeeded: state >> 33)
    }
    let valid = codec.encode(JobSpecMessage(jobID: 5, modelJSON: "{}", peerEndpoints: ["a", "b"]))
    var rejected = 0
    for trial in 0..<600 {
      var f: [[UInt8]]
      switch trial % 3 {
      case 0:
        f = (0..<(1 + trial % 4)).map { _ in (0..<Int(next() % 64)).map { _ in next() } }
      case 1:
        // A valid header followed by a garbage body for its kind.
        f = [valid[0], (0..<Int(next() % 64)).map { _ in next() }]
      default:
        // A valid message with one byte flipped.
        f = valid
        let i = Int(next()) % 2
        if !f[i].isEmpty { f[i][Int(next()) % f[i].count] ^= next() | 1 }
      }
      do {
        _ = try codec.decode(frames: f, expecting: codec.expect(.jobSpec))
      } catch is TransportError {
        rejected += 1
      } catch {
        XCTFail("non-transport error \(error)")
      }
    }
    XCTAssertGreaterThan(rejected, 300)
  }

  func testGarbageOverASocketIsRefusedAndTheSocketStaysUsable() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull)
    let b = try ZMQSocket(context: context, kind: .push)
    try b.connect(try a.bind("tcp://127.0.0.1:*"))
    a.peerRank = 9
    try b.send([0xFF, 0xFF, 0xFF], more: true)
    try b.send([1, 2, 3, 4, 5], more: true)
    try b.send([9])
    try b.send([1], more: true)
    try b.send([2], more: true)
    try b.send([3], more: true)
    try b.send([4], more: true)
    try b.send([5])
    let sender = MessageCodec(jobID: 5, rank: 1)
    try sender.send(HeartbeatMessage(sequence: 1), on: b)
    XCTAssertThrowsTransportError(try codec.receive(from: a, timeout: 5)) {
      if case .malformed(9, _) = $0 { return true } else { return false }
    }
    XCTAssertThrowsTransportError(try codec.receive(from: a, timeout: 5)) {
      if case .malformed(9, _) = $0 { return true } else { return false }
    }
    // The next well-formed message is read from its first frame.
    let e = try codec.receive(from: a, expecting: codec.expect(.heartbeat), timeout: 5)
    XCTAssertEqual(e.message, .heartbeat(HeartbeatMessage(sequence: 1)))
  }

  func testMaxMessageSizeCapsHostileFrames() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pull, options: .init(maxMessageSize: 1024))
    let b = try ZMQSocket(context: context, kind: .push)
    try b.connect(try a.bind("tcp://127.0.0.1:*"))
    try b.send([UInt8](repeating: 1, count: 4096))
    // ZeroMQ drops the connection instead of delivering the frame: nothing arrives.
    XCTAssertThrowsTransportError(try codec.receive(from: a, timeout: 0.3)) {
      if case .timeout = $0 { return true } else { return false }
    }
  }
}
