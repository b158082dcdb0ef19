/// K-fold cross-validation as the book makes it (Chollet, ch. 4, Boston Housing):
/// ```
/// num_val_samples = len(train_data) // k
/// val = data[i * num_val_samples : (i + 1) * num_val_samples]
/// partial_train = concatenate([data[:i * num_val_samples], data[(i + 1) * num_val_samples:]])
/// ```
/// Fold i validates on a contiguous block of `n / K` rows of the (optionally shuffled) sample
/// order and trains on the rest, in order; when `n % K != 0` the leftover last rows are always
/// in training. `shuffle` permutes the order first with a permutation keyed by (seed, repeat 0),
/// the same order `IteratedKFoldPlan` uses for its first repeat.
public struct KFoldPlan: ValidationPlan, Sendable, Codable, Equatable {
  public var folds: Int
  public var shuffle: Bool
  public var seed: UInt64

  public init(folds: Int, shuffle: Bool = false, seed: UInt64 = 0) {
    self.folds = folds
    self.shuffle = shuffle
    self.seed = seed
  }

  public func tasks(count: Int) throws -> [FoldTask] {
    let order =
      shuffle ? ValidationKeys.permutation(count, seed: seed, repeat: 0) : Array(0..<count)
    return try KFoldPlan.partition(order, folds: folds, repeat: 0, seed: seed)
  }

  /// The book's folds over `order`, as tasks of repeat `r`.
  static func partition(_ order: [Int], folds k: Int, repeat r: Int, seed: UInt64) throws
    -> [FoldTask]
  {
    guard k >= 2 else {
      throw DLPError.config("K-fold needs at least 2 folds. Received: folds=\(k)")
    }
    guard order.count >= k else {
      throw DLPError.config(
        "\(k)-fold validation needs at least \(k) samples; there are \(order.count)")
    }
    let size = order.count / k
    return (0..<k).map { i in
      let lo = i * size
      let hi = lo + size
      return FoldTask(
        repeat: r, fold: i, seed: FoldTask.seed(seed, repeat: r, fold: i),
        trainIndices: Array(order[..<lo]) + Array(order[hi...]),
        validationIndices: Array(order[lo..<hi]))
    }
  }
}

/// Iterated K-fold validation with shuffling (the book's recipe for small datasets): P repeats
/// of K-fold, the samples reshuffled before each repeat with a permutation keyed by
/// (seed, repeat). P x K tasks, repeat-major.
public struct IteratedKFoldPlan: ValidationPlan, Sendable, Codable, Equatable {
  public var folds: Int
  public var repeats: Int
  public var seed: UInt64

  public init(folds: Int, repeats: Int, seed: UInt64 = 0) {
    self.folds = folds
    self.repeats = repeats
    self.seed = seed
  }

  public func tasks(count: Int) throws -> [FoldTask] {
    guard repeats >= 1 else {
      throw DLPError.config("iterated K-fold needs at least 1 repeat. Received: repeats=\(repeats)")
    }
    return try (0..<repeats).flatMap { r in
      try KFoldPlan.partition(
        ValidationKeys.permutation(count, seed: seed, repeat: r), folds: folds, repeat: r,
        seed: seed)
    }
  }
}
