import CZMQ
import Foundation

/// A ZeroMQ socket, closed (with `ZMQ_LINGER` 0) when this object goes away.
///
/// ZeroMQ sockets are not thread-safe: a socket is owned by one thread at a time (it may be
/// handed to another thread, as the type's `@unchecked Sendable` allows, but never used from two
/// at once). Every call's return code is checked and failures throw `TransportError.zmq` with
/// `zmq_strerror`'s text; timeouts throw `.timeout` naming `peerRank` when the socket talks to
/// one known peer.
public final class ZMQSocket: @unchecked Sendable {
  /// ZeroMQ socket types used by DLP.
  public enum Kind: Sendable {
    case pair, pub, sub, req, rep, dealer, router, pull, push

    var raw: Int32 {
      switch self {
      case .pair: return ZMQ_PAIR
      case .pub: return ZMQ_PUB
      case .sub: return ZMQ_SUB
      case .req: return ZMQ_REQ
      case .rep: return ZMQ_REP
      case .dealer: return ZMQ_DEALER
      case .router: return ZMQ_ROUTER
      case .pull: return ZMQ_PULL
      case .push: return ZMQ_PUSH
      }
    }
  }

  /// Options applied before the socket binds or connects (ZeroMQ copies most options into a
  /// connection when it is made, so setting them later does not reach existing connections).
  public struct Options: Sendable {
    /// Messages queued per peer before sends block (`ZMQ_SNDHWM`); nil keeps ZeroMQ's 1000.
    public var sendHighWaterMark: Int32?
    /// Messages queued per peer on the receive side (`ZMQ_RCVHWM`).
    public var receiveHighWaterMark: Int32?
    /// Largest frame accepted (`ZMQ_MAXMSGSIZE`): a peer announcing more is disconnected before
    /// anything is allocated, which caps what a hostile peer can make us buffer. nil: no cap.
    public var maxMessageSize: Int64?
    /// How long a blocking send waits when the queue is full (`ZMQ_SNDTIMEO`), in seconds;
    /// nil waits forever.
    public var sendTimeout: Double?
    /// TCP keepalive, so a peer whose host vanished is noticed by the kernel.
    public var tcpKeepAlive: Bool
    /// Seconds of idleness before keepalive probes start.
    public var tcpKeepAliveIdle: Int32
    /// `ZMQ_IPV6`; off by default so `tcp://*:port` binds IPv4 as the docs assume.
    public var ipv6: Bool
    /// Kernel socket buffer sizes in bytes (`ZMQ_SNDBUF`, `ZMQ_RCVBUF`); nil keeps the OS's
    /// autotuned buffers. Setting one fixes that buffer's size (Linux then stops autotuning it).
    public var sendBufferBytes: Int32? = nil
    public var receiveBufferBytes: Int32? = nil
    /// `ZMQ_ROUTING_ID` for DEALER/REQ sockets talking to a ROUTER.
    public var routingID: [UInt8]?
    /// `ZMQ_ROUTER_MANDATORY`: sending to an unknown or gone peer fails instead of silently
    /// dropping the message.
    public var routerMandatory: Bool
    /// CURVE security (`ZMQ_CURVE_*`, see `CurveRole`); nil: plain text (ZeroMQ's NULL
    /// mechanism). Set it with `SocketSecurity.server(_:)` / `.client(_:)`.
    public var curve: CurveRole? = nil

    public init(
      sendHighWaterMark: Int32? = nil, receiveHighWaterMark: Int32? = nil,
      maxMessageSize: Int64? = nil, sendTimeout: Double? = nil, tcpKeepAlive: Bool = true,
      tcpKeepAliveIdle: Int32 = 30, ipv6: Bool = false, routingID: [UInt8]? = nil,
      routerMandatory: Bool = false
    ) {
      self.sendHighWaterMark = sendHighWaterMark
      self.receiveHighWaterMark = receiveHighWaterMark
      self.maxMessageSize = maxMessageSize
      self.sendTimeout = sendTimeout
      self.tcpKeepAlive = tcpKeepAlive
      self.tcpKeepAliveIdle = tcpKeepAliveIdle
      self.ipv6 = ipv6
      self.routingID = routingID
      self.routerMandatory = routerMandatory
    }
  }

  /// How long a blocking wait sleeps between checks of a `Cancellation` flag.
  static let pollSlice = 0.05

  public let kind: Kind
  public let context: ZMQContext
  /// The rank of the single peer this socket talks to, when there is one; named in errors.
  public var peerRank: Int?
  private var handle: UnsafeMutableRawPointer?
  private var sendTimeoutSeconds: Double?
  /// The CURVE role this socket was opened with (nil: plain text).
  public internal(set) var curveRole: CurveRole?

  /// Bytes CURVE adds to each frame on the wire (the MESSAGE command's name, nonce, flags and
  /// MAC: 33 in libzmq 4.3), with room to spare.
  static let curveFrameOverhead: Int64 = 64

  /// Opens a socket of `kind` in `context` and applies `options`.
  public init(context: ZMQContext, kind: Kind, options: Options = Options()) throws {
    guard let handle = zmq_socket(context.handle, kind.raw) else {
      throw TransportError.lastZMQError("zmq_socket")
    }
    self.kind = kind
    self.context = context
    self.handle = handle
    do {
      // Linger 0: closing must never block process exit on a peer that went away.
      try setOption(ZMQ_LINGER, Int32(0))
      try apply(options)
    } catch {
      zmq_close(handle)
      self.handle = nil
      throw error
    }
  }

  deinit { close() }

  /// Closes the socket; later calls throw. With `linger` 0 (the default) queued outgoing
  /// messages are dropped; otherwise ZeroMQ keeps delivering them in the background for up to
  /// `linger` seconds (and the context's termination waits for that), which is how a last
  /// message such as a Shutdown or a final collective chunk still reaches a live peer.
  public func close(linger: Double = 0) {
    if let handle {
      if linger > 0 {
        var ms = Int32(clamping: Int((linger * 1000).rounded(.up)))
        _ = zmq_setsockopt(handle, ZMQ_LINGER, &ms, MemoryLayout<Int32>.size)
      }
      zmq_close(handle)
      self.handle = nil
    }
  }

  /// Whether `close()` has been called.
  public var isClosed: Bool { handle == nil }

  func requireHandle(_ operation: String) throws -> UnsafeMutableRawPointer {
    guard let handle else {
      throw TransportError.invalidArgument("\(operation) on a closed socket")
    }
    return handle
  }

  private func apply(_ o: Options) throws {
    if let v = o.sendHighWaterMark { try setOption(ZMQ_SNDHWM, v) }
    if let v = o.receiveHighWaterMark { try setOption(ZMQ_RCVHWM, v) }
    if let v = o.maxMessageSize {
      // ZeroMQ checks the cap against what comes over the wire: under CURVE each frame also
      // carries its command name, nonce and MAC, so a frame right at the cap (a full collective
      // chunk) would be refused and the connection dropped.
      try setOption(ZMQ_MAXMSGSIZE, o.curve == nil ? v : v + Self.curveFrameOverhead)
    }
    if let v = o.sendTimeout {
      sendTimeoutSeconds = v
      try setOption(ZMQ_SNDTIMEO, Int32(clamping: Int((v * 1000).rounded(.up))))
    }
    try setOption(ZMQ_IPV6, Int32(o.ipv6 ? 1 : 0))
    if let v = o.sendBufferBytes { try setOption(ZMQ_SNDBUF, v) }
    if let v = o.receiveBufferBytes { try setOption(ZMQ_RCVBUF, v) }
    try setOption(ZMQ_TCP_KEEPALIVE, Int32(o.tcpKeepAlive ? 1 : 0))
    if o.tcpKeepAlive {
      try setOption(ZMQ_TCP_KEEPALIVE_IDLE, o.tcpKeepAliveIdle)
      try setOption(ZMQ_TCP_KEEPALIVE_INTVL, Int32(5))
      try setOption(ZMQ_TCP_KEEPALIVE_CNT, Int32(3))
    }
    if let id = o.routingID { try setOption(ZMQ_ROUTING_ID, bytes: id) }
    if o.routerMandatory { try setOption(ZMQ_ROUTER_MANDATORY, Int32(1)) }
    if let role = o.curve { try applyCurve(role) }
  }

  // MARK: Options

  /// Sets an integer option (`ZMQ_*` constant whose value is an `int`).
  public func setOption(_ option: Int32, _ value: Int32) throws {
    let h = try requireHandle("zmq_setsockopt")
    var v = value
    guard zmq_setsockopt(h, option, &v, MemoryLayout<Int32>.size) == 0 else {
      throw TransportError.lastZMQError("zmq_setsockopt(\(option))")
    }
  }

  /// Sets a 64-bit option (`ZMQ_MAXMSGSIZE`).
  public func setOption(_ option: Int32, _ value: Int64) throws {
    let h = try requireHandle("zmq_setsockopt")
    var v = value
    guard zmq_setsockopt(h, option, &v, MemoryLayout<Int64>.size) == 0 else {
      throw TransportError.lastZMQError("zmq_setsockopt(\(option))")
    }
  }

  /// Sets a binary option (`ZMQ_ROUTING_ID`, `ZMQ_SUBSCRIBE`).
  public func setOption(_ option: Int32, bytes: [UInt8]) throws {
    let h = try requireHandle("zmq_setsockopt")
    let rc = bytes.withUnsafeBytes { zmq_setsockopt(h, option, $0.baseAddress, $0.count) }
    guard rc == 0 else { throw TransportError.lastZMQError("zmq_setsockopt(\(option))") }
  }

  /// Reads an integer option.
  public func int32Option(_ option: Int32) throws -> Int32 {
    let h = try requireHandle("zmq_getsockopt")
    var v: Int32 = 0
    var size = MemoryLayout<Int32>.size
    guard zmq_getsockopt(h, option, &v, &size) == 0 else {
      throw TransportError.lastZMQError("zmq_getsockopt(\(option))")
    }
    return v
  }

  // MARK: Endpoints

  /// Binds to `endpoint` and returns the endpoint actually bound (`ZMQ_LAST_ENDPOINT`), which
  /// names the port the kernel chose for `tcp://host:*`.
  @discardableResult
  public func bind(_ endpoint: String) throws -> String {
    let h = try requireHandle("zmq_bind")
    guard zmq_bind(h, endpoint) == 0 else {
      throw TransportError.lastZMQError("zmq_bind(\(endpoint))")
    }
    return try lastEndpoint()
  }

  /// Connects to `endpoint` (asynchronously: ZeroMQ keeps retrying until the peer is there).
  public func connect(_ endpoint: String) throws {
    let h = try requireHandle("zmq_connect")
    guard zmq_connect(h, endpoint) == 0 else {
      throw TransportError.lastZMQError("zmq_connect(\(endpoint))")
    }
  }

  /// The endpoint last bound or connected.
  public func lastEndpoint() throws -> String {
    let h = try requireHandle("zmq_getsockopt")
    var buffer = [CChar](repeating: 0, count: 512)
    var size = buffer.count
    guard zmq_getsockopt(h, ZMQ_LAST_ENDPOINT, &buffer, &size) == 0 else {
      throw TransportError.lastZMQError("zmq_getsockopt(ZMQ_LAST_ENDPOINT)")
    }
    let bytes = buffer.prefix(min(size, buffer.count)).prefix { $0 != 0 }.map {
      UInt8(bitPattern: $0)
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  // MARK: Sending

  /// Sends a copy of `bytes` as one frame; `more` says another frame of the same message follows.
  public func send(_ bytes: UnsafeRawBufferPointer, more: Bool = false) throws {
    let h = try requireHandle("zmq_send")
    while true {
      let rc = zmq_send(h, bytes.baseAddress, bytes.count, more ? ZMQ_SNDMORE : 0)
      if rc >= 0 { return }
      if zmq_errno() == EINTR { continue }
      throw sendError()
    }
  }

  /// Sends a copy of `bytes` as one frame.
  public func send(_ bytes: [UInt8], more: Bool = false) throws {
    try bytes.withUnsafeBytes { try send($0, more: more) }
  }

  /// Sends `message`'s content without copying; the message is empty afterwards.
  public func send(_ message: ZMQMessage, more: Bool = false) throws {
    try send(raw: message.raw, more: more)
  }

  /// Sends `bytes` without copying them: ZeroMQ reads the caller's memory from its I/O thread
  /// later, so the memory must stay valid and unchanged until `tracker` has drained.
  public func sendZeroCopy(
    _ bytes: UnsafeRawBufferPointer, more: Bool = false, tracker: ZeroCopyTracker
  )
    throws
  {
    guard bytes.count > 0 else { return try send(bytes, more: more) }
    var message = zmq_msg_t()
    try tracker.initMessage(&message, bytes: bytes)
    defer { zmq_msg_close(&message) }  // no-op after a successful send; releases on failure
    try send(raw: &message, more: more)
  }

  func send(raw message: UnsafeMutablePointer<zmq_msg_t>, more: Bool) throws {
    let h = try requireHandle("zmq_msg_send")
    while true {
      if zmq_msg_send(message, h, more ? ZMQ_SNDMORE : 0) >= 0 { return }
      if zmq_errno() == EINTR { continue }
      throw sendError()
    }
  }

  private func sendError() -> TransportError {
    let code = zmq_errno()
    if code == EAGAIN {
      return .timeout(peer: peerRank, operation: "send", seconds: sendTimeoutSeconds ?? 0)
    }
    if code == EHOSTUNREACH {
      return .unreachable(peer: peerRank, "not connected (send failed)")
    }
    return .zmq(operation: "send", errno: code, message: String(cString: zmq_strerror(code)))
  }

  // MARK: Receiving

  /// Waits until a message can be received, for at most `timeout` seconds (nil: forever),
  /// checking `cancellation` between short slices. Returns false on timeout.
  public func waitReadable(timeout: Double?, cancellation: Cancellation? = nil) throws -> Bool {
    try waitReadable(timeout: timeout, cancellation: cancellation, operation: "receive")
  }

  func waitReadable(timeout: Double?, cancellation: Cancellation?, operation: String) throws -> Bool
  {
    let h = try requireHandle("zmq_poll")
    let deadline = timeout.map { DispatchTime.now().uptimeNanoseconds + UInt64(max(0, $0) * 1e9) }
    while true {
      if let cancellation, cancellation.isCancelled {
        throw TransportError.cancelled(operation: operation)
      }
      var slice = cancellation == nil ? (timeout ?? Self.pollSlice) : Self.pollSlice
      if let deadline {
        let now = DispatchTime.now().uptimeNanoseconds
        // A zero timeout, or a deadline just passed, still gets one poll that does not wait:
        // "is anything there now?" must see what is queued.
        slice = now >= deadline ? 0 : min(slice, Double(deadline - now) / 1e9)
      }
      var item = zmq_pollitem_t(socket: h, fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
      let rc = zmq_poll(&item, 1, slice <= 0 ? 0 : Int(max(1, (slice * 1000).rounded(.up))))
      if rc < 0 {
        if zmq_errno() == EINTR { continue }
        throw TransportError.lastZMQError("zmq_poll")
      }
      if rc > 0 && item.revents & Int16(ZMQ_POLLIN) != 0 { return true }
      if slice <= 0 { return false }
    }
  }

  /// Receives one frame into `message` (replacing its content). With `wait` false returns false
  /// at once when nothing is queued; otherwise blocks (callers bound the wait with
  /// `waitReadable` first, which `receiveFrame(into:timeout:)` does).
  public func receiveFrame(into message: ZMQMessage, wait: Bool) throws -> Bool {
    try receive(raw: message.raw, wait: wait)
  }

  func receive(raw message: UnsafeMutablePointer<zmq_msg_t>, wait: Bool) throws -> Bool {
    let h = try requireHandle("zmq_msg_recv")
    while true {
      if zmq_msg_recv(message, h, wait ? 0 : ZMQ_DONTWAIT) >= 0 { return true }
      let code = zmq_errno()
      if code == EINTR { continue }
      if code == EAGAIN { return false }
      throw TransportError.lastZMQError("zmq_msg_recv")
    }
  }

  /// Receives the first frame of the next message into `message`, waiting at most `timeout`
  /// seconds; throws `.timeout` naming `peerRank` when nothing came.
  func receiveFirst(
    raw message: UnsafeMutablePointer<zmq_msg_t>, timeout: Double?, cancellation: Cancellation?,
    operation: String
  ) throws {
    // Fast path: data is usually already queued, and a non-blocking receive avoids a poll call.
    if try receive(raw: message, wait: false) { return }
    while true {
      guard try waitReadable(timeout: timeout, cancellation: cancellation, operation: operation)
      else {
        throw TransportError.timeout(peer: peerRank, operation: operation, seconds: timeout ?? 0)
      }
      if try receive(raw: message, wait: false) { return }
    }
  }

  /// Receives one frame, waiting at most `timeout` seconds.
  public func receiveFrame(
    into message: ZMQMessage, timeout: Double?, cancellation: Cancellation? = nil
  )
    throws
  {
    try receiveFirst(
      raw: message.raw, timeout: timeout, cancellation: cancellation, operation: "receive")
  }

  /// Receives a whole multipart message, waiting at most `timeout` seconds for it to start.
  /// A message of more than `maxFrames` frames is drained and rejected as malformed, so a peer
  /// cannot make us hold an unbounded list.
  public func receiveMultipart(
    timeout: Double?, maxFrames: Int = 8, cancellation: Cancellation? = nil
  )
    throws -> [ZMQMessage]
  {
    let first = ZMQMessage()
    try receiveFirst(
      raw: first.raw, timeout: timeout, cancellation: cancellation, operation: "receive")
    var frames = [first]
    while frames[frames.count - 1].hasMore {
      // ZeroMQ delivers multipart messages atomically: the remaining frames are already here.
      let next = ZMQMessage()
      _ = try receive(raw: next.raw, wait: true)
      if frames.count == maxFrames {
        try drainMessage(after: next)
        throw TransportError.malformed(peer: peerRank, "more than \(maxFrames) frames")
      }
      frames.append(next)
    }
    return frames
  }

  /// Discards the rest of a multipart message whose frame `last` was just received, so the next
  /// receive starts at a message boundary.
  func drainMessage(after last: ZMQMessage) throws {
    while last.hasMore { _ = try receive(raw: last.raw, wait: true) }
  }

  /// Discards the rest of the message whose first frames were read with `zmq_recv`.
  func drainRemainingFrames() throws {
    let scratch = ZMQMessage()
    while hasMoreFrames { _ = try receive(raw: scratch.raw, wait: true) }
  }

  /// Whether the frame last received has more frames after it (`ZMQ_RCVMORE`).
  public var hasMoreFrames: Bool {
    (try? int32Option(ZMQ_RCVMORE)) == 1
  }

  /// Receives one frame straight into `buffer` (ZeroMQ copies it once, from its own buffer into
  /// ours) and returns the frame's size; a frame larger than `buffer` throws `.tooLarge`.
  public func receive(
    into buffer: UnsafeMutableRawBufferPointer, timeout: Double?, cancellation: Cancellation? = nil
  )
    throws -> Int
  {
    let h = try requireHandle("zmq_recv")
    while true {
      let rc = zmq_recv(h, buffer.baseAddress, buffer.count, ZMQ_DONTWAIT)
      if rc >= 0 {
        guard Int(rc) <= buffer.count else {
          try drainRemainingFrames()
          throw TransportError.tooLarge(peer: peerRank, bytes: Int(rc), limit: buffer.count)
        }
        return Int(rc)
      }
      let code = zmq_errno()
      if code == EINTR { continue }
      guard code == EAGAIN else { throw TransportError.lastZMQError("zmq_recv") }
      guard try waitReadable(timeout: timeout, cancellation: cancellation, operation: "receive")
      else {
        throw TransportError.timeout(peer: peerRank, operation: "receive", seconds: timeout ?? 0)
      }
    }
  }

  /// Receives one frame of float32 values straight into `buffer`; returns the element count.
  /// A frame whose size is not a multiple of 4 throws `.malformed`.
  public func receiveFloats(
    into buffer: UnsafeMutableBufferPointer<Float>, timeout: Double?,
    cancellation: Cancellation? = nil
  ) throws -> Int {
    let bytes = try receive(
      into: UnsafeMutableRawBufferPointer(buffer), timeout: timeout, cancellation: cancellation)
    guard bytes % 4 == 0 else {
      throw TransportError.malformed(
        peer: peerRank, "payload of \(bytes) bytes is not whole float32 values")
    }
    return bytes / 4
  }

  // MARK: Polling

  /// Waits until any of `sockets` is readable, for at most `timeout` seconds; returns which are.
  public static func poll(_ sockets: [ZMQSocket], timeout: Double?) throws -> [Bool] {
    var items = try sockets.map {
      zmq_pollitem_t(
        socket: try $0.requireHandle("zmq_poll"), fd: 0, events: Int16(ZMQ_POLLIN), revents: 0)
    }
    let ms = timeout.map { Int(($0 * 1000).rounded(.up)) } ?? -1
    while zmq_poll(&items, Int32(items.count), ms) < 0 {
      if zmq_errno() != EINTR { throw TransportError.lastZMQError("zmq_poll") }
    }
    return items.map { $0.revents & Int16(ZMQ_POLLIN) != 0 }
  }
}
