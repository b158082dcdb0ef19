import CZMQ
import Foundation
import Logging

/// A refused connection attempt, as the ZAP handler saw it.
public struct ZAPRefusal: Sendable, CustomStringConvertible {
  /// The peer's address as ZeroMQ reports it (the IP, without the port).
  public var address: String
  /// "CURVE", or the mechanism a misconfigured server socket let through.
  public var mechanism: String
  /// The client's public key (Z85), when it offered one.
  public var clientKey: String?
  public var reason: String

  public var description: String {
    "refused a connection from \(address.isEmpty ? "an unknown address" : address)"
      + (clientKey.map { " with CURVE key \($0)" } ?? " (\(mechanism))") + ": \(reason)"
  }
}

/// ZeroMQ's authentication hook (ZAP, RFC 27) for one context: a REP socket bound to
/// `inproc://zeromq.zap.01`, served on its own thread, that every CURVE server socket of the
/// context asks before admitting a client. It admits a client whose public key is in `keys`
/// (replying with the key's Z85 as the connection's User-Id, which received messages carry:
/// `Envelope.peerKey`) and refuses every other one, logging the peer address and key.
///
/// Without a ZAP handler, ZeroMQ admits every client key, so `ZMQSocket` refuses to open a
/// CURVE server on a context that has none (`ZMQContext.hasZAPHandler`).
///
/// The handler lives as long as its context: it does not keep the context alive, and the
/// context's termination (the last socket's release) wakes the thread, which closes its socket
/// so termination completes. `stop()` ends it earlier.
public final class ZAPHandler: @unchecked Sendable {
  public static let endpoint = "inproc://zeromq.zap.01"
  /// The ZAP domain DLP's server sockets announce (`ZMQ_ZAP_DOMAIN`).
  public static let domain = "dlp"

  public let keys: AuthorizedKeys
  private let stopFlag = Cancellation()
  private let finished = DispatchSemaphore(value: 0)
  private let lock = NSLock()
  private var stopped = false

  /// Binds the handler in `context` and starts its thread. `onRefusal` is called (on the
  /// handler's thread) for each refused client, after the log line.
  public init(
    context: ZMQContext, keys: AuthorizedKeys, logger: Logger = Logger(label: "dlp.security"),
    onRefusal: (@Sendable (ZAPRefusal) -> Void)? = nil
  ) throws {
    self.keys = keys
    guard let socket = zmq_socket(context.handle, ZMQ_REP) else {
      throw TransportError.lastZMQError("zmq_socket(ZAP)")
    }
    var linger: Int32 = 0
    zmq_setsockopt(socket, ZMQ_LINGER, &linger, MemoryLayout<Int32>.size)
    guard zmq_bind(socket, Self.endpoint) == 0 else {
      let error = TransportError.lastZMQError("zmq_bind(\(Self.endpoint))")
      zmq_close(socket)
      if case .zmq(_, let code, _) = error, code == EADDRINUSE {
        throw TransportError.invalidArgument("this ZeroMQ context already has a ZAP handler")
      }
      throw error
    }
    context.markZAPHandlerInstalled()
    let raw = ZAPSocketHandle(pointer: socket)
    let stop = stopFlag
    let done = finished
    let keys = self.keys
    let t = Thread {
      ZAPHandler.serve(raw.pointer, keys: keys, stop: stop, logger: logger, onRefusal: onRefusal)
      zmq_close(raw.pointer)
      done.signal()
    }
    t.name = "dlp-zap"
    t.start()
  }

  /// Stops serving and waits for the thread to close its socket. CURVE servers of the context
  /// then refuse every client (ZeroMQ answers unanswered ZAP requests with a failure).
  public func stop() {
    lock.lock()
    let first = !stopped
    stopped = true
    lock.unlock()
    guard first else { return }
    stopFlag.cancel()
    finished.wait()
  }

  // MARK: The ZAP exchange

  private static func serve(
    _ socket: UnsafeMutableRawPointer, keys: AuthorizedKeys, stop: Cancellation, logger: Logger,
    onRefusal: (@Sendable (ZAPRefusal) -> Void)?
  ) {
    var limiter = RefusalLogLimiter()
    while !stop.isCancelled {
      var item = zmq_pollitem_t(socket: socket, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
      let rc = zmq_poll(&item, 1, 100)
      if rc < 0 {
        if zmq_errno() == EINTR { continue }
        return  // ETERM: the context is terminating
      }
      guard rc > 0 else { continue }
      guard let frames = receiveRequest(socket) else {
        if zmq_errno() == ETERM { return }
        continue
      }
      let request = ZAPRequest(frames: frames)
      let verdict = request.map { decide($0, keys: keys) }
      let reply: [[UInt8]]
      if let request, let verdict {
        if case .refuse(let refusal) = verdict {
          if let suppressed = limiter.shouldLog(refusal, now: DispatchTime.now().uptimeNanoseconds)
          {
            logger.warning(
              "\(refusal)\(suppressed > 0 ? " (and \(suppressed) more like it since the last line)" : "")"
            )
          }
          onRefusal?(refusal)
        }
        reply = request.reply(verdict)
      } else {
        // Not a ZAP 1.0 request: answer with an internal error if it has a request id at all.
        logger.warning("malformed ZAP request (\(frames.count) frames)")
        guard frames.count >= 2 else { continue }
        reply = [
          Array("1.0".utf8), frames[1], Array("500".utf8), Array("malformed ZAP request".utf8), [],
          [],
        ]
      }
      if !sendReply(socket, reply) && zmq_errno() == ETERM { return }
    }
  }

  enum Verdict {
    case admit(userID: String)
    case refuse(ZAPRefusal)
  }

  static func decide(_ request: ZAPRequest, keys: AuthorizedKeys) -> Verdict {
    guard request.mechanism == "CURVE" else {
      return .refuse(
        ZAPRefusal(
          address: request.address, mechanism: request.mechanism, clientKey: nil,
          reason: "only CURVE clients are admitted"))
    }
    guard request.credentials.count == 1, let key = try? CurveKey(bytes: request.credentials[0])
    else {
      return .refuse(
        ZAPRefusal(
          address: request.address, mechanism: request.mechanism, clientKey: nil,
          reason: "malformed CURVE credentials"))
    }
    guard keys.name(of: key) != nil else {
      return .refuse(
        ZAPRefusal(
          address: request.address, mechanism: "CURVE", clientKey: key.z85,
          reason: "the key is not among the authorized keys"))
    }
    return .admit(userID: key.z85)
  }

  /// Receives one multipart request; at most 16 frames of at most 1 KiB each are kept (a ZAP
  /// request is 7 small frames), the rest is drained.
  private static func receiveRequest(_ socket: UnsafeMutableRawPointer) -> [[UInt8]]? {
    var frames: [[UInt8]] = []
    var message = zmq_msg_t()
    zmq_msg_init(&message)
    defer { zmq_msg_close(&message) }
    while true {
      guard zmq_msg_recv(&message, socket, 0) >= 0 else {
        if zmq_errno() == EINTR { continue }
        return nil
      }
      let size = zmq_msg_size(&message)
      if frames.count < 16 {
        let data = zmq_msg_data(&message)
        frames.append(
          size > 1024 || data == nil
            ? [] : Array(UnsafeRawBufferPointer(start: data, count: size)))
      }
      if zmq_msg_more(&message) == 0 { return frames }
    }
  }

  private static func sendReply(_ socket: UnsafeMutableRawPointer, _ frames: [[UInt8]]) -> Bool {
    for (i, frame) in frames.enumerated() {
      let flags = i < frames.count - 1 ? ZMQ_SNDMORE : 0
      while true {
        let rc = frame.withUnsafeBytes { zmq_send(socket, $0.baseAddress, $0.count, flags) }
        if rc >= 0 { break }
        if zmq_errno() == EINTR { continue }
        return false
      }
    }
    return true
  }
}

/// A parsed ZAP 1.0 request: version, request id, domain, address, routing id, mechanism,
/// credentials.
struct ZAPRequest {
  var requestID: [UInt8]
  var domain: String
  var address: String
  var mechanism: String
  var credentials: [[UInt8]]

  init?(frames: [[UInt8]]) {
    guard frames.count >= 6, frames[0] == Array("1.0".utf8) else { return nil }
    requestID = frames[1]
    domain = String(decoding: frames[2], as: UTF8.self)
    address = String(decoding: frames[3], as: UTF8.self)
    mechanism = String(decoding: frames[5], as: UTF8.self)
    credentials = Array(frames.dropFirst(6))
  }

  func reply(_ verdict: ZAPHandler.Verdict) -> [[UInt8]] {
    switch verdict {
    case .admit(let user):
      return [
        Array("1.0".utf8), requestID, Array("200".utf8), Array("OK".utf8), Array(user.utf8), [],
      ]
    case .refuse(let refusal):
      return [Array("1.0".utf8), requestID, Array("400".utf8), Array(refusal.reason.utf8), [], []]
    }
  }
}

/// The handler thread's raw socket (used by that thread only once it starts).
private struct ZAPSocketHandle: @unchecked Sendable {
  let pointer: UnsafeMutableRawPointer
}

/// Keeps a peer that retries from flooding the log: the first refusal of an address and key is
/// logged, then at most one line a minute for the same pair, counting the ones left out. At
/// most 4096 pairs are remembered (the oldest are forgotten, and may be logged again).
struct RefusalLogLimiter {
  static let interval: UInt64 = 60_000_000_000
  static let capacity = 4096
  private var seen: [String: (last: UInt64, suppressed: Int)] = [:]

  /// nil: leave this refusal out; otherwise log it, with how many were left out before it.
  mutating func shouldLog(_ r: ZAPRefusal, now: UInt64) -> Int? {
    let key = r.address + " " + (r.clientKey ?? r.mechanism)
    if let entry = seen[key], now &- entry.last < Self.interval {
      seen[key] = (entry.last, entry.suppressed + 1)
      return nil
    }
    let suppressed = seen[key]?.suppressed ?? 0
    if seen[key] == nil && seen.count >= Self.capacity,
      let oldest = seen.min(by: { $0.value.last < $1.value.last })?.key
    {
      seen[oldest] = nil
    }
    seen[key] = (now, 0)
    return suppressed
  }
}
