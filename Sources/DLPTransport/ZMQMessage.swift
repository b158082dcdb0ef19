import CZMQ

/// One ZeroMQ message frame (`zmq_msg_t`), owned by this object and closed when it goes away.
///
/// Received frames are read in place through `bytes` (no copy out of ZeroMQ's buffer); a frame
/// can be sent on, which moves its content without copying (how the ring all-gather forwards
/// data). Owned by one thread at a time.
public final class ZMQMessage {
  /// Heap storage: a `zmq_msg_t` may point into itself (very small messages), so it must not move.
  let raw: UnsafeMutablePointer<zmq_msg_t>

  /// An empty message, ready to receive into.
  public init() {
    raw = .allocate(capacity: 1)
    zmq_msg_init(raw)  // cannot fail
  }

  /// A message of `size` uninitialised bytes, to fill through `mutableBytes` before sending.
  public init(size: Int) throws {
    raw = .allocate(capacity: 1)
    guard zmq_msg_init_size(raw, size) == 0 else {
      raw.deallocate()
      throw TransportError.lastZMQError("zmq_msg_init_size")
    }
  }

  /// A message holding a copy of `bytes`.
  public convenience init(copying bytes: UnsafeRawBufferPointer) throws {
    try self.init(size: bytes.count)
    if let base = bytes.baseAddress, bytes.count > 0 {
      mutableBytes.baseAddress!.copyMemory(from: base, byteCount: bytes.count)
    }
  }

  /// A message holding a copy of `bytes`.
  public convenience init(copying bytes: [UInt8]) throws {
    try self.init(size: bytes.count)
    let destination = mutableBytes
    bytes.withUnsafeBytes { src in
      if let base = src.baseAddress, src.count > 0 {
        destination.baseAddress!.copyMemory(from: base, byteCount: src.count)
      }
    }
  }

  deinit {
    zmq_msg_close(raw)
    raw.deallocate()
  }

  /// Bytes in the frame.
  public var count: Int { zmq_msg_size(raw) }

  /// The frame's bytes, valid until the message is received into, sent or deallocated.
  public var bytes: UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(start: zmq_msg_data(raw), count: zmq_msg_size(raw))
  }

  /// The frame's bytes, writable (for a message being built; received frames are read-only
  /// by convention).
  public var mutableBytes: UnsafeMutableRawBufferPointer {
    UnsafeMutableRawBufferPointer(start: zmq_msg_data(raw), count: zmq_msg_size(raw))
  }

  /// Whether more frames of the same multipart message follow this one.
  public var hasMore: Bool { zmq_msg_more(raw) != 0 }

  /// A copy of the frame's bytes.
  public var array: [UInt8] { [UInt8](bytes) }

  /// Drops the content (closing the old frame), leaving an empty message to receive into.
  public func reset() {
    zmq_msg_close(raw)
    zmq_msg_init(raw)
  }

  /// Takes over `other`'s content without copying (`zmq_msg_move`), leaving `other` empty.
  public func take(from other: ZMQMessage) {
    zmq_msg_move(raw, other.raw)
  }
}
