/// The collective operations of one data-parallel training step, whatever carries them (this
/// process, a ring of workers over tcp or shared memory, a central root).
///
/// Each replica of the model holds some rows of a global batch (possibly none) and computes the
/// gradient of its rows' summed loss divided by the global batch size. `reduceScatter` leaves
/// every replica the global sum over the part of the flat parameter buffer it owns (its
/// optimizer shard, ZeRO stage 1); it regularises and steps that part, and `allGather` gives
/// every replica every owner's updated weights. In-process the one replica owns everything and
/// both calls do nothing; under a central root the root owns everything and the workers
/// nothing.
///
/// Every replica makes the same calls in the same order (the step is one fixed sequence), so an
/// implementation may number them itself. Results are bitwise identical on every replica. A
/// call that fails leaves the collective broken: the job re-forms it (or ends).
public protocol StepCollective: AnyObject {
  /// The part of a flat buffer of `count` floats this replica owns after `reduceScatter`.
  func ownedRange(count: Int) -> Range<Int>
  /// Afterwards `gradients[ownedRange]` holds the sum over every replica.
  func reduceScatter(_ gradients: UnsafeMutableBufferPointer<Float>) throws
  /// Every replica contributes `values[ownedRange]`; afterwards every replica holds them all.
  func allGather(_ values: UnsafeMutableBufferPointer<Float>) throws
  /// Replaces `values` by their sum over every replica, added in replica order, so the sums
  /// are the same bits everywhere (statistics, and batch normalisation's moments).
  func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>) throws
}

/// This process alone: one replica that holds every row and owns every weight.
public final class LocalCollective: StepCollective {
  public init() {}
  public func ownedRange(count: Int) -> Range<Int> { 0..<count }
  public func reduceScatter(_ gradients: UnsafeMutableBufferPointer<Float>) throws {}
  public func allGather(_ values: UnsafeMutableBufferPointer<Float>) throws {}
  public func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>) throws {}
}

/// The rows of a global batch each of `replicas` replicas computes: contiguous parts, as even
/// as possible (`ShardPlan`), the same on every process.
public struct BatchPartition: Sendable, Equatable {
  public let replica: Int
  public let replicas: Int

  public init(replica: Int, of replicas: Int) {
    self.replica = replica
    self.replicas = replicas
  }

  public static let whole = BatchPartition(replica: 0, of: 1)

  /// This replica's rows of a batch of `count`.
  public func part(of count: Int) -> Range<Int> {
    ShardPlan(count: count, parts: replicas).range(replica)
  }
}
