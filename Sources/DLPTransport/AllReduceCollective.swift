/// An all-reduce (sum) over float32 buffers among `worldSize` ranks.
///
/// Every rank calls `run` with a buffer of the same length and the same `step`/`tensorID`
/// sequence; on return each buffer holds the element-wise sum, bitwise identical on all ranks.
/// Implementations are owned by one thread; a failed call leaves the collective broken (later
/// calls throw) because the ranks can no longer be assumed to be in step.
public protocol AllReduceCollective: AnyObject {
  var rank: Int { get }
  var worldSize: Int { get }
  /// Sums `buffer` across ranks in place. `step` and `tensorID` travel in every header, so a
  /// rank running a different step or bucket is detected instead of silently mixing data.
  func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32) throws
  /// Closes the sockets; later calls throw. Frames still queued (the last chunks of the last
  /// call, which slower peers may not have read yet) keep being delivered in the background
  /// for a bounded time, so closing right after `run` does not starve the other ranks.
  func close()
}
