import Foundation

/// What CURVE costs on this machine: bulk throughput of a one-way stream of `bytes`-sized
/// messages (PUSH -> PULL over tcp on loopback, each side with its own ZeroMQ context and
/// I/O thread, as two processes would have) and the round trip of small messages (PAIR
/// ping-pong, what control messages and heartbeats see), with plain ZeroMQ and with CURVE,
/// measured in alternating rounds so both see the same machine. `dlp bench curve` prints it.
public enum CurveBenchmark {
  public struct Figures: Sendable, Codable, Equatable {
    /// Median over rounds of the stream's throughput, GB/s (1e9 bytes).
    public var bulkGBps: Double
    /// Median round trip of a small message, microseconds.
    public var roundTripMicros: Double
  }

  public struct Result: Sendable, Codable, Equatable {
    public var bytes: Int
    public var messages: Int
    public var rounds: Int
    public var plain: Figures
    public var curve: Figures
    /// CURVE's throughput as a fraction of plain ZeroMQ's.
    public var bulkRatio: Double { curve.bulkGBps / plain.bulkGBps }

    public var summary: String {
      String(
        format:
          "bulk %d x %.1f MiB over tcp loopback: plain %.2f GB/s, CURVE %.2f GB/s (%.2fx); round trip of %d B: plain %.0f us, CURVE %.0f us",
        messages, Double(bytes) / 1_048_576, plain.bulkGBps, curve.bulkGBps, bulkRatio,
        CurveBenchmark.smallBytes,
        plain.roundTripMicros, curve.roundTripMicros)
    }
  }

  static let smallBytes = 64

  /// Runs `rounds` rounds, each streaming `messages` messages of `bytes` and timing
  /// `pings` round trips, plain then CURVE.
  public static func run(bytes: Int, messages: Int, rounds: Int, pings: Int = 500) throws -> Result
  {
    guard bytes >= 1, messages >= 1, rounds >= 1, pings >= 1 else {
      throw TransportError.invalidArgument(
        "curve benchmark needs bytes, messages, rounds and pings >= 1")
    }
    try CurveSupport.require()
    let server = try CurveKeyPair.generate()
    let client = try CurveKeyPair.generate()
    let secured = (
      server: SecurityOptions.curve(
        CurveCredentials(keyPair: server, authorizedKeys: ["client": client.publicKey])),
      client: SecurityOptions.curve(CurveCredentials(keyPair: client, serverKey: server.publicKey))
    )
    var plain: [(Double, Double)] = []
    var curve: [(Double, Double)] = []
    for _ in 0..<rounds {
      plain.append(
        (
          try stream(bytes: bytes, messages: messages, server: .insecure, client: .insecure),
          try pingPong(pings: pings, server: .insecure, client: .insecure)
        ))
      curve.append(
        (
          try stream(
            bytes: bytes, messages: messages, server: secured.server, client: secured.client),
          try pingPong(pings: pings, server: secured.server, client: secured.client)
        ))
    }
    func figures(_ xs: [(Double, Double)]) -> Figures {
      Figures(bulkGBps: median(xs.map(\.0)), roundTripMicros: median(xs.map(\.1)))
    }
    return Result(
      bytes: bytes, messages: messages, rounds: rounds, plain: figures(plain), curve: figures(curve)
    )
  }

  static func median(_ xs: [Double]) -> Double {
    let s = xs.sorted()
    return s.isEmpty
      ? 0 : s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }

  /// A connected pair: `server` binds on loopback, `client` connects; each in its own context.
  final class Pair: @unchecked Sendable {
    let serverContext: ZMQContext
    let clientContext: ZMQContext
    let serverSecurity: SocketSecurity
    let clientSecurity: SocketSecurity
    let receiver: ZMQSocket
    let sender: ZMQSocket

    init(
      receiverKind: ZMQSocket.Kind, senderKind: ZMQSocket.Kind, server: SecurityOptions,
      client: SecurityOptions
    ) throws {
      serverContext = try ZMQContext()
      clientContext = try ZMQContext()
      serverSecurity = try SocketSecurity(context: serverContext, options: server)
      clientSecurity = try SocketSecurity(context: clientContext, options: client)
      let hwm = ZMQSocket.Options(sendHighWaterMark: 16, receiveHighWaterMark: 16)
      receiver = try ZMQSocket(
        context: serverContext, kind: receiverKind, options: serverSecurity.server(hwm))
      sender = try ZMQSocket(
        context: clientContext, kind: senderKind, options: try clientSecurity.client(hwm))
      try sender.connect(try receiver.bind("tcp://127.0.0.1:*"))
    }
  }

  /// GB/s of a one-way stream; the first two messages (connection and handshake) are not timed.
  static func stream(bytes: Int, messages: Int, server: SecurityOptions, client: SecurityOptions)
    throws -> Double
  {
    let pair = try Pair(receiverKind: .pull, senderKind: .push, server: server, client: client)
    let payload = [UInt8](repeating: 0x5A, count: bytes)
    let failure = FailureBox()
    let sender = Thread {
      do {
        for _ in 0..<(messages + 2) { try pair.sender.send(payload) }
      } catch {
        failure.set(error)
      }
    }
    sender.start()
    var sink = [UInt8](repeating: 0, count: bytes)
    var start = DispatchTime.now().uptimeNanoseconds
    for i in 0..<(messages + 2) {
      let n = try sink.withUnsafeMutableBytes { try pair.receiver.receive(into: $0, timeout: 60) }
      guard n == bytes else {
        throw TransportError.malformed(peer: nil, "benchmark message of \(n) bytes")
      }
      if i == 1 { start = DispatchTime.now().uptimeNanoseconds }
    }
    let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    if let e = failure.error { throw e }
    return Double(bytes) * Double(messages) / seconds / 1e9
  }

  /// Median round trip in microseconds of a 64-byte message and its echo.
  static func pingPong(pings: Int, server: SecurityOptions, client: SecurityOptions) throws
    -> Double
  {
    let pair = try Pair(receiverKind: .pair, senderKind: .pair, server: server, client: client)
    let failure = FailureBox()
    let echo = Thread {
      do {
        var buffer = [UInt8](repeating: 0, count: smallBytes)
        for _ in 0..<(pings + 1) {
          let n = try buffer.withUnsafeMutableBytes {
            try pair.receiver.receive(into: $0, timeout: 60)
          }
          try buffer.withUnsafeBytes {
            try pair.receiver.send(UnsafeRawBufferPointer(rebasing: $0[0..<n]))
          }
        }
      } catch {
        failure.set(error)
      }
    }
    echo.start()
    var buffer = [UInt8](repeating: 1, count: smallBytes)
    var times: [Double] = []
    for i in 0..<(pings + 1) {
      let t0 = DispatchTime.now().uptimeNanoseconds
      try pair.sender.send(buffer)
      _ = try buffer.withUnsafeMutableBytes { try pair.sender.receive(into: $0, timeout: 60) }
      if i > 0 { times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e3) }
    }
    if let e = failure.error { throw e }
    return median(times)
  }
}

/// The first error a helper thread hit.
final class FailureBox: @unchecked Sendable {
  private let lock = NSLock()
  private var first: Error?
  func set(_ e: Error) {
    lock.lock()
    if first == nil { first = e }
    lock.unlock()
  }
  var error: Error? {
    lock.lock()
    defer { lock.unlock() }
    return first
  }
}
