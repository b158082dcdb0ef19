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
}

extension RingAllReduce: ShardedCollective {}
