import CZMQ
import Foundation

/// A ZeroMQ context: owns the I/O threads that move bytes for its sockets.
///
/// ZeroMQ contexts are thread-safe, so this class is `Sendable`. One per process is the norm;
/// benchmarks that stand in for several processes give each simulated rank its own context so
/// that each has its own I/O thread, as separate processes would. The context terminates when
/// the last reference (every `ZMQSocket` keeps one) goes away.
public final class ZMQContext: @unchecked Sendable {
  /// The raw `void *` context, for calls this wrapper does not cover.
  public let handle: UnsafeMutableRawPointer

  /// Creates a context with `ioThreads` I/O threads (ZeroMQ's default is one, which moves about
  /// a gigabyte per second per thread; more only help with many connections).
  public init(ioThreads: Int = 1) throws {
    guard let handle = zmq_ctx_new() else { throw TransportError.lastZMQError("zmq_ctx_new") }
    self.handle = handle
    if ioThreads != 1 {
      guard zmq_ctx_set(handle, ZMQ_IO_THREADS, Int32(ioThreads)) == 0 else {
        let error = TransportError.lastZMQError("zmq_ctx_set(ZMQ_IO_THREADS)")
        zmq_ctx_term(handle)
        throw error
      }
    }
    // A process must be able to exit while a peer is unreachable: never block in term waiting
    // for unsent messages (sockets also set ZMQ_LINGER 0 for the same reason).
    _ = zmq_ctx_set(handle, ZMQ_BLOCKY, 0)
  }

  private let zapLock = NSLock()
  private var zapInstalled = false

  /// Whether a `ZAPHandler` serves this context. CURVE server sockets need one: without it
  /// ZeroMQ admits every client key, so `ZMQSocket` refuses to open such a socket here.
  public var hasZAPHandler: Bool {
    zapLock.lock()
    defer { zapLock.unlock() }
    return zapInstalled
  }

  func markZAPHandlerInstalled() {
    zapLock.lock()
    zapInstalled = true
    zapLock.unlock()
  }

  deinit {
    // zmq_ctx_term can be interrupted by a signal; it must be retried, not abandoned, or the
    // I/O threads leak.
    while zmq_ctx_term(handle) != 0 && zmq_errno() == EINTR {}
  }
}

extension TransportError {
  /// The error ZeroMQ reported for the call that just failed on this thread.
  static func lastZMQError(_ operation: String) -> TransportError {
    let code = zmq_errno()
    return .zmq(operation: operation, errno: code, message: String(cString: zmq_strerror(code)))
  }
}
