/// Simple hold-out validation. Unshuffled, the LAST `validationFraction` of the samples is held
/// out, as Keras's `validation_split` does (`split_at = int(n * (1 - fraction))`); shuffled, the
/// samples are permuted with a permutation keyed by `seed` first.
public struct HoldOutSplit: ValidationPlan, Sendable, Codable, Equatable {
  public var validationFraction: Double
  public var shuffle: Bool
  public var seed: UInt64

  public init(validationFraction: Double, shuffle: Bool = false, seed: UInt64 = 0) {
    self.validationFraction = validationFraction
    self.shuffle = shuffle
    self.seed = seed
  }

  /// The training and validation rows of `count` samples.
  public func split(count: Int) throws -> (train: [Int], validation: [Int]) {
    guard validationFraction >= 0 && validationFraction < 1 else {
      throw DLPError.config(
        "validation fraction must be in [0, 1). Received: validation_split=\(validationFraction)")
    }
    guard count > 0 else { throw DLPError.data("no samples to split") }
    let order =
      shuffle ? ValidationKeys.permutation(count, seed: seed, repeat: 0) : Array(0..<count)
    let splitAt = Int(Double(count) * (1 - validationFraction))
    guard splitAt > 0 else {
      throw DLPError.config(
        "validation fraction \(validationFraction) of \(count) samples leaves none for training")
    }
    return (Array(order[..<splitAt]), Array(order[splitAt...]))
  }

  /// One task (repeat 0, fold 0).
  public func tasks(count: Int) throws -> [FoldTask] {
    let (train, validation) = try split(count: count)
    return [
      FoldTask(
        repeat: 0, fold: 0, seed: FoldTask.seed(seed, repeat: 0, fold: 0), trainIndices: train,
        validationIndices: validation)
    ]
  }
}
