import Foundation

/// A flag another thread can raise to abandon blocking transport calls.
///
/// Every receive in this module waits in short slices and checks the flag between them, so a
/// coordinator that decides to give up on a step (a worker died elsewhere, the user pressed ^C)
/// gets its threads back within one slice instead of waiting out the full timeout.
public final class Cancellation: @unchecked Sendable {
  private let lock = NSLock()
  private var raised = false

  public init() {}

  /// Raises the flag; waits in progress throw `TransportError.cancelled` soon after.
  public func cancel() {
    lock.lock()
    raised = true
    lock.unlock()
  }

  /// Whether `cancel()` was called.
  public var isCancelled: Bool {
    lock.lock()
    defer { lock.unlock() }
    return raised
  }
}
