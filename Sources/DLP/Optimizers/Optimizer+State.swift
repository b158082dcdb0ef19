/// An optimizer's state as Keras saves it (`optimizer/vars` of a weights file): `iterations`,
/// the learning rate (unless it comes from a schedule), then for each trainable variable in
/// `model.trainable_variables` order its slots, interleaved (Adam: momentum, velocity of the
/// first variable, then of the second, ...; `add_optimizer_variables`).
extension Optimizer {
  /// Whether this optimizer holds the state of the whole flat buffer (a ring worker holds only
  /// its shard; a coordinator under the ring holds none that is current).
  public func holdsState(forParameters total: Int) -> Bool {
    slotCount == 0 || (slots.count == slotCount && shard == 0..<total)
  }

  /// Slot `k` of the parameters in `range` (a variable's place in the flat buffer).
  func slotValues(_ k: Int, range: Range<Int>) -> [Float] {
    guard k < slots.count, range.lowerBound >= shard.lowerBound,
      range.upperBound <= shard.upperBound
    else {
      return [Float](repeating: 0, count: range.count)
    }
    return Array(
      UnsafeBufferPointer(
        start: slots[k] + (range.lowerBound - shard.lowerBound), count: range.count))
  }

  /// Restores a saved state: the step count, and slot `k` of each variable range.
  func restoreState(
    iterations: Int, slots values: [(slot: Int, range: Range<Int>, values: [Float])], total: Int
  ) {
    if slots.count != slotCount || shard != 0..<total { prepare(shard: 0..<total) }
    for v in values
    where v.slot < slots.count && v.range.upperBound <= total && v.values.count == v.range.count {
      v.values.withUnsafeBufferPointer {
        (slots[v.slot] + v.range.lowerBound).update(from: $0.baseAddress!, count: v.range.count)
      }
    }
    self.iterations = iterations
    if let s = schedule { learningRate = s.rate(atStep: iterations) }
  }
}
