import CZMQ
import Foundation

/// What happened to a connection's security handshake, from a socket monitor.
public enum HandshakeEvent: Sendable, Equatable, CustomStringConvertible {
  case succeeded(endpoint: String)
  /// The server's ZAP handler refused our key (`status`: 400, or 300/500).
  case refusedByServer(endpoint: String, status: Int)
  /// The handshake broke: wrong server key, CURVE on one side only, or garbage.
  case failed(endpoint: String, code: UInt32)
  /// The connection closed before the handshake completed (a CURVE server that cannot open
  /// our hello, because it does not hold the secret of the key we expect, just hangs up).
  case closedDuringHandshake(endpoint: String)

  public var isFailure: Bool {
    if case .succeeded = self { return false }
    return true
  }

  public var description: String {
    switch self {
    case .succeeded(let e):
      return "security handshake with \(e) succeeded"
    case .refusedByServer(let e, let status):
      return
        "\(e) refused this process's CURVE key (ZAP status \(status)): its public key is not among the server's authorized keys"
    case .failed(let e, let code):
      let why: String
      switch Int32(bitPattern: code) {
      case ZMQ_PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
        why =
          "one side uses CURVE and the other does not (--curve-secret-key / --insecure must agree)"
      case ZMQ_PROTOCOL_ERROR_ZMTP_CRYPTOGRAPHIC, ZMQ_PROTOCOL_ERROR_ZMTP_KEY_EXCHANGE:
        why =
          "the keys do not match (the server does not hold the secret of the key this process expects)"
      default:
        why = "protocol error 0x\(String(code, radix: 16))"
      }
      return "security handshake with \(e) failed: \(why)"
    case .closedDuringHandshake(let e):
      return
        "\(e) closed the connection during the security handshake: one side uses CURVE and the other does not, or the server does not hold the secret of the public key this process expects (--coordinator-key)"
    }
  }
}

/// Watches a socket's connections (`zmq_socket_monitor`) for the outcome of their security
/// handshakes, so a client refused by a CURVE server, or talking to an impostor, can say so
/// instead of waiting out a timeout: ZeroMQ itself just retries a failed handshake forever.
/// Owned by the thread that owns the monitored socket.
///
/// Close it (or let it go) once the outcome is known: ZeroMQ's I/O thread writes each event to
/// the monitor with a blocking send, so events nobody reads would, after a thousand, stall
/// every connection of the monitored socket. `close()` stops the monitoring first.
public final class HandshakeMonitor {
  private let pair: ZMQSocket
  private let monitored: ZMQSocket
  private var closed = false
  private var connecting: Set<String> = []
  public private(set) var events: [HandshakeEvent] = []

  static let watched =
    ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_SUCCEEDED
    | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL | ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL
    | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH

  /// Starts monitoring `socket` (call before it connects, or the first events are missed).
  public init(socket: ZMQSocket) throws {
    let endpoint = "inproc://dlp-monitor-\(UUID().uuidString)"
    let h = try socket.requireHandle("zmq_socket_monitor")
    guard zmq_socket_monitor(h, endpoint, Self.watched) == 0 else {
      throw TransportError.lastZMQError("zmq_socket_monitor")
    }
    monitored = socket
    do {
      pair = try ZMQSocket(context: socket.context, kind: .pair)
      try pair.connect(endpoint)
    } catch {
      zmq_socket_monitor(h, nil, 0)
      throw error
    }
  }

  deinit { close() }

  /// Reads the events that arrived (waiting at most `timeout` seconds for the first one) and
  /// returns the new ones.
  @discardableResult
  public func poll(timeout: Double = 0) throws -> [HandshakeEvent] {
    var fresh: [HandshakeEvent] = []
    var wait = timeout
    while try pair.waitReadable(timeout: wait) {
      wait = 0
      let frames = try pair.receiveMultipart(timeout: 1, maxFrames: 2)
      guard frames.count == 2, frames[0].count >= 6 else { continue }
      let head = frames[0].array
      let event = Int32(UInt16(head[0]) | UInt16(head[1]) << 8)
      let value =
        UInt32(head[2]) | UInt32(head[3]) << 8 | UInt32(head[4]) << 16 | UInt32(head[5]) << 24
      let endpoint = String(decoding: frames[1].array, as: UTF8.self)
      switch event {
      case ZMQ_EVENT_CONNECTED:
        connecting.insert(endpoint)
      case ZMQ_EVENT_HANDSHAKE_SUCCEEDED:
        connecting.remove(endpoint)
        fresh.append(.succeeded(endpoint: endpoint))
      case ZMQ_EVENT_HANDSHAKE_FAILED_AUTH:
        connecting.remove(endpoint)
        fresh.append(.refusedByServer(endpoint: endpoint, status: Int(value)))
      case ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL:
        connecting.remove(endpoint)
        fresh.append(.failed(endpoint: endpoint, code: value))
      case ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL:
        // The value is an errno: the peer hung up (EPIPE, ECONNRESET) mid-handshake.
        connecting.remove(endpoint)
        fresh.append(.closedDuringHandshake(endpoint: endpoint))
      case ZMQ_EVENT_DISCONNECTED:
        if connecting.remove(endpoint) != nil {
          fresh.append(.closedDuringHandshake(endpoint: endpoint))
        }
      default:
        break
      }
    }
    events += fresh
    return fresh
  }

  /// The latest failure, when no handshake has succeeded since: what to report instead of
  /// "the coordinator said nothing".
  public func failure() throws -> HandshakeEvent? {
    try poll()
    guard let last = events.last, last.isFailure else { return nil }
    return last
  }

  /// Waits up to `timeout` seconds for the first handshake to finish: returns when it
  /// succeeded, throws its failure (as `TransportError.unreachable`) otherwise; nil on timeout.
  public func awaitHandshake(timeout: Double) throws -> HandshakeEvent? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      for e in try poll(timeout: max(0, deadline.timeIntervalSinceNow)) {
        if e.isFailure { throw TransportError.unreachable(peer: nil, e.description) }
        return e
      }
      if Date() >= deadline { return nil }
    }
  }

  /// Stops monitoring (the monitored socket stays open) and closes the event socket.
  public func close() {
    guard !closed else { return }
    closed = true
    if let h = try? monitored.requireHandle("zmq_socket_monitor") { zmq_socket_monitor(h, nil, 0) }
    pair.close()
  }
}
