import CZMQ
import Foundation

/// Counts zero-copy frames that ZeroMQ still references, so a sender knows when it may touch
/// (or free) the memory it sent.
///
/// A zero-copy send hands ZeroMQ a pointer into the caller's buffer; the I/O thread reads it
/// later and calls a free function when done. Until then the buffer must not change. Collectives
/// call `waitUntilDrained` before returning, so callers can reuse their buffers at once.
public final class ZeroCopyTracker: @unchecked Sendable {
  private let condition = NSCondition()
  private var outstanding = 0

  public init() {}

  /// Frames sent and not yet released by ZeroMQ.
  public var pending: Int {
    condition.lock()
    defer { condition.unlock() }
    return outstanding
  }

  func retain() {
    condition.lock()
    outstanding += 1
    condition.unlock()
  }

  func release() {
    condition.lock()
    outstanding -= 1
    if outstanding == 0 { condition.broadcast() }
    condition.unlock()
  }

  /// Blocks until every frame has been released or `timeout` seconds passed; returns whether
  /// it drained.
  @discardableResult
  public func waitUntilDrained(timeout: Double) -> Bool {
    let deadline = Date(timeIntervalSinceNow: timeout)
    condition.lock()
    defer { condition.unlock() }
    while outstanding > 0 {
      if !condition.wait(until: deadline) { return outstanding == 0 }
    }
    return true
  }

  /// Makes `message` reference `bytes` without copying; the tracker counts it until ZeroMQ
  /// calls the free function (from its I/O thread).
  func initMessage(_ message: UnsafeMutablePointer<zmq_msg_t>, bytes: UnsafeRawBufferPointer) throws
  {
    // The hint carries a retained reference: the tracker must outlive every frame it counts,
    // even when its owner is gone by the time ZeroMQ lets go of the frame.
    let hint = Unmanaged.passRetained(self).toOpaque()
    retain()
    let rc = zmq_msg_init_data(
      message, UnsafeMutableRawPointer(mutating: bytes.baseAddress), bytes.count,
      zeroCopyFree, hint)
    guard rc == 0 else {
      release()
      Unmanaged<ZeroCopyTracker>.fromOpaque(hint).release()
      throw TransportError.lastZMQError("zmq_msg_init_data")
    }
  }
}

/// ZeroMQ's free callback for tracked frames: the data belongs to the caller, so only the count
/// drops.
private let zeroCopyFree:
  @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void = {
    _, hint in
    guard let hint else { return }
    let tracker = Unmanaged<ZeroCopyTracker>.fromOpaque(hint).takeRetainedValue()
    tracker.release()
  }
