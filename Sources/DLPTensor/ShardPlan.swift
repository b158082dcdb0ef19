/// Splits `count` items into `parts` contiguous ranges, as even as possible: the first
/// `count % parts` ranges get one item more. Ranges may be empty (more parts than items).
///
/// The same plan splits a global batch among workers and a gradient buffer among ring ranks
/// (the shard each rank owns after a reduce-scatter), so every process computes identical
/// boundaries from two integers.
public struct ShardPlan: Sendable, Equatable {
  public let count: Int
  public let parts: Int

  /// A plan for `count >= 0` items over `parts >= 1` parts.
  public init(count: Int, parts: Int) {
    precondition(count >= 0, "ShardPlan: negative count \(count)")
    precondition(parts >= 1, "ShardPlan: needs at least one part, got \(parts)")
    self.count = count
    self.parts = parts
  }

  /// The items of `part` (0 ..< parts).
  public func range(_ part: Int) -> Range<Int> {
    precondition(part >= 0 && part < parts, "ShardPlan: part \(part) out of 0..<\(parts)")
    let base = count / parts
    let extra = count % parts
    let start = part * base + min(part, extra)
    return start..<(start + base + (part < extra ? 1 : 0))
  }

  /// Every part's range, in order.
  public var ranges: [Range<Int>] { (0..<parts).map(range) }

  /// The part that holds item `index`.
  public func part(containing index: Int) -> Int {
    precondition(index >= 0 && index < count, "ShardPlan: index \(index) out of 0..<\(count)")
    let base = count / parts
    let extra = count % parts
    let bigItems = extra * (base + 1)
    if index < bigItems { return index / (base + 1) }
    return extra + (index - bigItems) / base
  }
}
