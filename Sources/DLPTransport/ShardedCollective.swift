/// An all-reduce that can stop half way, for ZeRO-1 training: `reduceScatter` leaves each rank
/// the fully reduced shard it owns (`ShardPlan(count:parts: worldSize).range(rank)`), the rank
/// updates the weights of that shard with its share of the optimizer state, and `allGather`
/// brings every rank the others' updated shards.
public protocol ShardedCollective: AllReduceCollective {
  /// Afterwards `buffer[ownedRange(count:)]` holds the sum over all ranks (the rest of the
  /// buffer is unspecified). Returns the owned range.
  @discardableResult
  func reduceScatter(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32)
    throws -> Range<Int>
  /// Every rank contributes `buffer[ownedRange(count:)]`; afterwards all buffers are identical.
  func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32)
    throws
  /// The elements this rank owns after `reduceScatter` on a buffer of `count` elements.
  func ownedRange(count: Int) -> Range<Int>
  /// Starts a reduce-scatter of `buffer` whose values become final piece by piece, so that the
  /// transfers can overlap the computation of the rest (gradient buckets, DESIGN.md section 2):
  /// call `ready(range)` on the returned session as each piece is final (a layer's gradients,
  /// from `GraphExecutor.backward`'s `gradientReady`), then `finish()`, which marks the rest
  /// ready and returns when `buffer[ownedRange(count:)]` holds the sum, exactly as
  /// `reduceScatter` would have left it (bitwise: the same ranks add in the same order).
  ///
  /// Between `ready` calls the caller may write only the parts not yet marked ready; until
  /// `finish` returns it must not run another collective call. Ranks may mark different pieces,
  /// in any order: the result does not depend on it. The default (for collectives that cannot
  /// stream) does the whole reduce-scatter in `finish`.
  func beginReduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32
  ) throws -> any ReduceScatterSession
}

/// A reduce-scatter in progress: see `ShardedCollective.beginReduceScatter`.
public protocol ReduceScatterSession: AnyObject {
  /// `buffer[range]` is final on this rank; the collective may send it and add what arrived.
  /// Ranges must lie in the buffer and not overlap earlier ones. Does not wait for peers.
  func ready(_ range: Range<Int>) throws
  /// Marks the rest of the buffer ready and waits until this rank's shard holds the sum;
  /// returns `ownedRange(count:)`.
  @discardableResult
  func finish() throws -> Range<Int>
}

extension ShardedCollective {
  public func beginReduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32
  ) throws -> any ReduceScatterSession {
    DeferredReduceScatter(collective: self, buffer: buffer, step: step, tensorID: tensorID)
  }
}

/// The session of a collective that cannot stream: checks the ranges, then does the whole
/// reduce-scatter in `finish`.
final class DeferredReduceScatter<C: ShardedCollective>: ReduceScatterSession {
  let collective: C
  let buffer: UnsafeMutableBufferPointer<Float>
  let step: UInt64
  let tensorID: UInt32
  private var readied = RangeSet<Int>()
  private var done = false

  init(collective: C, buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32) {
    self.collective = collective
    self.buffer = buffer
    self.step = step
    self.tensorID = tensorID
  }

  func ready(_ range: Range<Int>) throws {
    guard !done else { throw TransportError.invalidArgument("the reduce-scatter is finished") }
    guard range.lowerBound >= 0, range.upperBound <= buffer.count else {
      throw TransportError.invalidArgument(
        "ready range \(range) is outside the buffer of \(buffer.count) elements")
    }
    guard readied.intersection(RangeSet(range)).isEmpty else {
      throw TransportError.invalidArgument(
        "ready range \(range) overlaps a range already marked ready")
    }
    readied.insert(contentsOf: range)
  }

  @discardableResult
  func finish() throws -> Range<Int> {
    guard !done else { throw TransportError.invalidArgument("the reduce-scatter is finished") }
    done = true
    return try collective.reduceScatter(buffer, step: step, tensorID: tensorID)
  }
}

extension RingAllReduce: ShardedCollective {}
