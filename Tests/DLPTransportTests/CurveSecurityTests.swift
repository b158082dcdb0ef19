import Foundation
import Logging
import XCTest

@testable import DLPTransport

/// CURVE between real ZeroMQ sockets over tcp on loopback: an authorized client talks; an
/// unknown key, a client without CURVE, and a rogue speaking ZMTP by hand in plain text are
/// refused before any of their messages reaches the server socket; a client that checks the
/// server key refuses an impostor. "Never reaches" is shown by order, not by waiting: after the
/// refusal has happened (a signal from the ZAP handler or the client's handshake monitor), an
/// authorized client's message is the first, and only, one the server socket receives.
final class CurveSecurityTests: XCTestCase {
  let serverPair = try! CurveKeyPair.generate()
  let clientPair = try! CurveKeyPair.generate()
  let strangerPair = try! CurveKeyPair.generate()

  /// A CURVE ROUTER on loopback admitting `clientPair`, its refusals collected.
  final class Server: @unchecked Sendable {
    let context: ZMQContext
    let security: SocketSecurity
    let socket: ZMQSocket
    let endpoint: String
    let refusals = RefusalLog()

    init(
      pair: CurveKeyPair, admitting keys: [String: CurveKey],
      logger: Logger = Logger(label: "test.zap")
    ) throws {
      context = try ZMQContext()
      let log = refusals
      security = try SocketSecurity(
        context: context, options: .curve(CurveCredentials(keyPair: pair, authorizedKeys: keys)),
        logger: logger,
        onRefusal: { log.add($0) })
      socket = try ZMQSocket(
        context: context, kind: .router, options: security.server(.init(maxMessageSize: 1 << 20)))
      endpoint = try socket.bind("tcp://127.0.0.1:*")
    }
  }

  final class RefusalLog: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [ZAPRefusal] = []
    private let signal = DispatchSemaphore(value: 0)
    func add(_ r: ZAPRefusal) {
      lock.lock()
      items.append(r)
      lock.unlock()
      signal.signal()
    }
    func waitForOne(timeout: Double = 10) -> Bool {
      signal.wait(timeout: .now() + timeout) == .success
    }
    var all: [ZAPRefusal] {
      lock.lock()
      defer { lock.unlock() }
      return items
    }
  }

  /// A DEALER in its own context: CURVE with `pair` expecting `serverKey`, or plain text.
  func client(_ pair: CurveKeyPair?, serverKey: CurveKey?) throws -> (ZMQSocket, HandshakeMonitor) {
    let context = try ZMQContext()
    let options: SecurityOptions =
      pair.map { .curve(CurveCredentials(keyPair: $0, serverKey: serverKey)) } ?? .insecure
    let security = try SocketSecurity(context: context, options: options)
    let socket = try ZMQSocket(
      context: context, kind: .dealer, options: try security.client(.init()))
    return (socket, try HandshakeMonitor(socket: socket))
  }

  let codec = MessageCodec()

  func hello(_ id: String) -> HelloMessage { HelloMessage(workerID: id, hostname: "h", pid: 1) }

  /// Receives on the server and returns the Hello's worker id and the key ZAP admitted.
  func receiveHello(_ server: Server) throws -> (String, String?) {
    let env = try codec.receive(from: server.socket, timeout: 10)
    guard case .hello(let h) = env.message else {
      XCTFail("expected a Hello, got \(env.message.kind)")
      return ("", nil)
    }
    return (h.workerID, env.peerKey)
  }

  /// An authorized client says hello; the server must receive exactly that one first.
  func assertOnlyTheAuthorizedClientArrives(
    _ server: Server, file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let (good, goodMonitor) = try client(clientPair, serverKey: serverPair.publicKey)
    defer { goodMonitor.close() }
    try good.connect(server.endpoint)
    try codec.send(hello("authorized"), on: good)
    let (id, key) = try receiveHello(server)
    XCTAssertEqual(
      id, "authorized", "a refused client's message reached the server socket", file: file,
      line: line)
    XCTAssertEqual(key, clientPair.publicKey.z85, file: file, line: line)
    XCTAssertFalse(
      try server.socket.waitReadable(timeout: 0.2), "more than one message arrived", file: file,
      line: line)
  }

  func testAnAuthorizedClientExchangesMessagesAndIsKnownByItsKey() throws {
    let server = try Server(pair: serverPair, admitting: ["worker-a": clientPair.publicKey])
    let (socket, monitor) = try client(clientPair, serverKey: serverPair.publicKey)
    try socket.connect(server.endpoint)
    let payload: [Float] = (0..<1000).map { Float($0) / 7 }
    try codec.send(hello("w1"), on: socket)
    try payload.withUnsafeBufferPointer {
      try codec.send(
        WeightChunkMessage(totalLength: 1000, last: true), on: socket, step: 4, payload: $0)
    }
    let (id, key) = try receiveHello(server)
    XCTAssertEqual(id, "w1")
    XCTAssertEqual(key, clientPair.publicKey.z85, "the ZAP handler's User-Id is the client's key")
    let chunk = try codec.receive(from: server.socket, timeout: 10)
    XCTAssertEqual(chunk.payload?.floats, payload)
    // And back: the server answers through the same encrypted connection.
    try codec.send(
      WelcomeMessage(jobID: 1, rank: 0, worldSize: 1), on: server.socket, routingID: chunk.routingID
    )
    let welcome = try codec.receive(from: socket, timeout: 10)
    XCTAssertEqual(welcome.message, .welcome(WelcomeMessage(jobID: 1, rank: 0, worldSize: 1)))
    XCTAssertEqual(try monitor.awaitHandshake(timeout: 10), .succeeded(endpoint: server.endpoint))
    XCTAssertTrue(server.refusals.all.isEmpty)
  }

  func testAClientWithAnUnknownKeyIsRefusedAndTold() throws {
    let server = try Server(pair: serverPair, admitting: ["worker-a": clientPair.publicKey])
    let (stranger, monitor) = try client(strangerPair, serverKey: serverPair.publicKey)
    try stranger.connect(server.endpoint)
    try codec.send(hello("stranger"), on: stranger)
    XCTAssertTrue(server.refusals.waitForOne(), "the ZAP handler never refused the stranger")
    let refusal = server.refusals.all[0]
    XCTAssertEqual(refusal.clientKey, strangerPair.publicKey.z85)
    XCTAssertEqual(refusal.address, "127.0.0.1")
    // The stranger's side learns why, instead of waiting forever for an answer.
    XCTAssertThrowsTransportError(try monitor.awaitHandshake(timeout: 10)) {
      if case .unreachable(_, let text) = $0 {
        return text.contains("refused") && text.contains("400")
      }
      return false
    }
    try assertOnlyTheAuthorizedClientArrives(server)
  }

  func testAClientWithoutCurveIsRefused() throws {
    let server = try Server(pair: serverPair, admitting: ["worker-a": clientPair.publicKey])
    let (plain, monitor) = try client(nil, serverKey: nil)
    try plain.connect(server.endpoint)
    try codec.send(hello("plain"), on: plain)
    XCTAssertThrowsTransportError(try monitor.awaitHandshake(timeout: 10)) {
      if case .unreachable(_, let text) = $0 { return text.contains("CURVE") } else { return false }
    }
    try assertOnlyTheAuthorizedClientArrives(server)
  }

  /// A rogue that skips libzmq: a bare TCP socket sending a ZMTP 3.0 greeting with the NULL
  /// mechanism, a READY command and a DLP Hello in clear. The server hangs up on it.
  func testARoguePlainTextClientSpeakingTheProtocolIsRefused() throws {
    let server = try Server(pair: serverPair, admitting: ["worker-a": clientPair.publicKey])
    let port = UInt16(server.endpoint.split(separator: ":").last!)!
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = port.bigEndian
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    XCTAssertEqual(connected, 0)
    var timeout = timeval(tv_sec: 10, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    // Greeting: signature, version 3.0, mechanism "NULL" (20 bytes), as-server 0, 31 bytes filler.
    var bytes: [UInt8] = [0xFF, 0, 0, 0, 0, 0, 0, 0, 1, 0x7F, 3, 0]
    bytes +=
      Array("NULL".utf8) + [UInt8](repeating: 0, count: 16) + [0] + [UInt8](repeating: 0, count: 31)
    // READY with Socket-Type DEALER, then the Hello's header and body frames.
    let ready: [UInt8] =
      [5] + Array("READY".utf8) + [11] + Array("Socket-Type".utf8) + [0, 0, 0, 6]
      + Array("DEALER".utf8)
    bytes += [0x04, UInt8(ready.count)] + ready
    let frames = codec.encode(hello("rogue"))
    bytes +=
      [0x01, UInt8(frames[0].count)] + frames[0] + [0x00, UInt8(frames[1].count)] + frames[1]
    _ = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    // Read until the server hangs up (it may first send its own greeting).
    var sink = [UInt8](repeating: 0, count: 4096)
    var closed = false
    for _ in 0..<100 {
      let n = sink.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
      if n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN) {
        closed = true
        break
      }
      if n < 0 && errno == EAGAIN { break }
    }
    XCTAssertTrue(closed, "the server did not hang up on a NULL-mechanism greeting")
    try assertOnlyTheAuthorizedClientArrives(server)
  }

  func testAClientThatChecksTheServerKeyRefusesAnImpostor() throws {
    // The impostor admits the client's key: the refusal is the client's doing.
    let impostorPair = try CurveKeyPair.generate()
    let impostor = try Server(pair: impostorPair, admitting: ["worker-a": clientPair.publicKey])
    let (socket, monitor) = try client(clientPair, serverKey: serverPair.publicKey)
    try socket.connect(impostor.endpoint)
    try codec.send(hello("secret"), on: socket)
    XCTAssertThrowsTransportError(try monitor.awaitHandshake(timeout: 10)) {
      if case .unreachable = $0 { return true } else { return false }
    }
    // A client that does expect the impostor's key gets through first: "secret" never did.
    let (honest, honestMonitor) = try client(clientPair, serverKey: impostorPair.publicKey)
    defer { honestMonitor.close() }
    try honest.connect(impostor.endpoint)
    try codec.send(hello("expects-impostor"), on: honest)
    XCTAssertEqual(try receiveHello(impostor).0, "expects-impostor")
    XCTAssertFalse(try impostor.socket.waitReadable(timeout: 0.2))
  }

  func testTheRefusalIsLoggedWithThePeerAddressAndKey() throws {
    let lines = CapturedLog()
    let logger = Logger(label: "test.zap") { _ in CapturingLogHandler(log: lines) }
    let server = try Server(
      pair: serverPair, admitting: ["worker-a": clientPair.publicKey], logger: logger)
    let (stranger, monitor) = try client(strangerPair, serverKey: serverPair.publicKey)
    defer { monitor.close() }
    try stranger.connect(server.endpoint)
    XCTAssertTrue(server.refusals.waitForOne())
    let line = lines.all.first { $0.contains("refused") } ?? ""
    XCTAssertTrue(line.contains("127.0.0.1"), "the log line names no peer address: \(line)")
    XCTAssertTrue(line.contains(strangerPair.publicKey.z85), "the log line names no key: \(line)")
  }

  func testACurveServerNeedsAZAPHandler() throws {
    let context = try ZMQContext()
    XCTAssertThrowsTransportError(
      try ZMQSocket(
        context: context, kind: .router, options: ZMQSocket.Options().secured(.server(serverPair)))
    ) {
      if case .invalidArgument(let text) = $0 { return text.contains("ZAP") } else { return false }
    }
    _ = try ZAPHandler(context: context, keys: AuthorizedKeys())
    XCTAssertThrowsTransportError(try ZAPHandler(context: context, keys: AuthorizedKeys())) {
      if case .invalidArgument(let text) = $0 {
        return text.contains("already")
      } else {
        return false
      }
    }
    let socket = try ZMQSocket(
      context: context, kind: .router, options: ZMQSocket.Options().secured(.server(serverPair)))
    XCTAssertEqual(socket.curveRole, .server(serverPair))
  }

  func testTheZAPHandlerEndsWithItsContext() throws {
    let done = DispatchSemaphore(value: 0)
    let keys = clientPair
    let t = Thread {
      do {
        let context = try ZMQContext()
        let security = try SocketSecurity(
          context: context, options: .curve(CurveCredentials(keyPair: keys)))
        let s = try ZMQSocket(context: context, kind: .router, options: security.server())
        _ = try s.bind("tcp://127.0.0.1:*")
      } catch {
        XCTFail("\(error)")
      }
      // Every reference is gone here: the context terminates, which must not wait for ever
      // on the handler's socket.
      done.signal()
    }
    t.start()
    XCTAssertEqual(
      done.wait(timeout: .now() + 20), .success, "terminating a context with a ZAP handler hung")
  }

  func testAWorkerAddsItsRingPeerAfterTheJobSpec() throws {
    let server = try Server(pair: serverPair, admitting: [:])
    let (early, monitor) = try client(clientPair, serverKey: serverPair.publicKey)
    try early.connect(server.endpoint)
    XCTAssertThrowsTransportError(try monitor.awaitHandshake(timeout: 10)) { _ in true }
    server.security.authorize(clientPair.publicKey, name: "ring peer 1")
    try assertOnlyTheAuthorizedClientArrives(server)
  }
}

final class CapturedLog: @unchecked Sendable {
  private let lock = NSLock()
  private var lines: [String] = []
  func add(_ s: String) {
    lock.lock()
    lines.append(s)
    lock.unlock()
  }
  var all: [String] {
    lock.lock()
    defer { lock.unlock() }
    return lines
  }
}

struct CapturingLogHandler: LogHandler {
  let log: CapturedLog
  var metadata: Logger.Metadata = [:]
  var logLevel: Logger.Level = .trace
  subscript(metadataKey key: String) -> Logger.Metadata.Value? {
    get { metadata[key] }
    set { metadata[key] = newValue }
  }
  func log(
    level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String,
    file: String,
    function: String, line: UInt
  ) {
    log.add("\(level) \(message)")
  }
}

extension CurveSecurityTests {
  /// The benchmark behind `dlp bench curve` runs both ways and reports positive figures (no
  /// speed is asserted: this machine is shared).
  func testTheCurveBenchmarkMeasuresBothWays() throws {
    let r = try CurveBenchmark.run(bytes: 64 << 10, messages: 4, rounds: 1, pings: 5)
    XCTAssertGreaterThan(r.plain.bulkGBps, 0)
    XCTAssertGreaterThan(r.curve.bulkGBps, 0)
    XCTAssertGreaterThan(r.curve.roundTripMicros, 0)
    XCTAssertTrue(r.summary.contains("CURVE"))
  }
}

extension CurveSecurityTests {
  /// A stranger that keeps retrying gets one log line a minute, not one per attempt.
  func testRepeatedRefusalsDoNotFloodTheLog() throws {
    var limiter = RefusalLogLimiter()
    let r = ZAPRefusal(address: "10.0.0.9", mechanism: "CURVE", clientKey: "k", reason: "no")
    let minute: UInt64 = 60_000_000_000
    XCTAssertEqual(limiter.shouldLog(r, now: 1), 0)
    XCTAssertNil(limiter.shouldLog(r, now: 2))
    XCTAssertNil(limiter.shouldLog(r, now: minute / 2))
    XCTAssertEqual(
      limiter.shouldLog(r, now: minute + 1), 2, "the next line counts the two left out")
    var other = r
    other.address = "10.0.0.10"
    XCTAssertEqual(limiter.shouldLog(other, now: minute + 2), 0, "another peer is logged at once")
  }
}
