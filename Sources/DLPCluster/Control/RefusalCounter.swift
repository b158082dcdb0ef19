/// Keeps hostile or broken peers from flooding the coordinator's log (and its disk): the first
/// `verbatim` refusals are logged as they come, then one line for every `every` more, with the
/// count so far. Refusing costs nothing more than counting.
struct RefusalCounter {
  static let verbatim = 20
  static let every = 1000
  private(set) var count = 0

  /// Counts a refusal; returns the line's suffix when this one is to be logged, nil when not.
  mutating func note() -> String? {
    count += 1
    if count <= Self.verbatim {
      return count == Self.verbatim ? " (further refusals: one line every \(Self.every))" : ""
    }
    return count % Self.every == 0 ? " (\(count) refusals so far)" : nil
  }
}
