/// One unit of a validation sweep: train a fresh model on `trainIndices` of the training data
/// and validate it on `validationIndices`. A plain value (Codable, Sendable) so a coordinator can
/// ship it to whichever worker is idle; everything random about the task is keyed by `seed`,
/// so the result does not depend on who runs it.
public struct FoldTask: Sendable, Codable, Equatable, Hashable {
  /// The repeat of an iterated K-fold (0 for plain K-fold and hold-out).
  public var `repeat`: Int
  /// The fold within the repeat (0-based).
  public var fold: Int
  /// Seed of this task's weights, epoch shuffling and dropout: keyed by (plan seed, repeat, fold).
  public var seed: UInt64
  /// Rows of the training data to train on, in the order the book concatenates them.
  public var trainIndices: [Int]
  /// Rows of the training data to validate on.
  public var validationIndices: [Int]

  public init(repeat r: Int, fold: Int, seed: UInt64, trainIndices: [Int], validationIndices: [Int])
  {
    self.repeat = r
    self.fold = fold
    self.seed = seed
    self.trainIndices = trainIndices
    self.validationIndices = validationIndices
  }

  /// The seed of task (repeat, fold) of a plan seeded with `seed`.
  public static func seed(_ seed: UInt64, repeat r: Int, fold: Int) -> UInt64 {
    KeyedRandom.key(seed, ValidationKeys.task, UInt64(r), UInt64(fold))
  }

  /// Checks the indices against a dataset of `count` rows.
  public func validate(count: Int) throws {
    guard !trainIndices.isEmpty else {
      throw DLPError.config("fold \(fold) (repeat \(self.repeat)) has no training samples")
    }
    for i in trainIndices + validationIndices where i < 0 || i >= count {
      throw DLPError.data(
        "fold \(fold) (repeat \(self.repeat)) refers to sample \(i), outside the \(count) training samples"
      )
    }
  }
}

/// A way to split `count` training samples into train/validation tasks.
public protocol ValidationPlan: Sendable {
  func tasks(count: Int) throws -> [FoldTask]
}

/// Salts of the keyed random streams of validation plans.
enum ValidationKeys {
  static let task: UInt64 = 0x464F_4C44  // "FOLD"
  static let shuffle: UInt64 = 0x5348_4646  // "SHFF"
  static let final: UInt64 = 0x4649_4E4C  // "FINL"

  /// The sample order of repeat `r`: a permutation keyed by (seed, repeat).
  static func permutation(_ n: Int, seed: UInt64, repeat r: Int) -> [Int] {
    var rng = SeededGenerator(seed: KeyedRandom.key(seed, shuffle, UInt64(r)))
    return rng.permutation(n)
  }
}
