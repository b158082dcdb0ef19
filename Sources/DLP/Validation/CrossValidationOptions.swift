/// How each task of a validation sweep trains (the same for every task, so it travels with
/// the tasks to workers).
public struct CrossValidationOptions: Sendable, Codable, Equatable {
  public var epochs: Int
  public var batchSize: Int
  /// Reshuffle the training partition every epoch (Keras's `fit` default).
  public var shuffle: Bool
  /// Re-initialise every weight from the task's seed, keyed by layer POSITION rather than
  /// layer name (`Model.reinitializeByPosition`), so a task's initial weights do not depend on
  /// the auto-generated layer names of the process that builds its model. Turn off when
  /// `makeModel` loads pretrained weights that must be kept.
  public var reinitializeWeights: Bool

  public init(
    epochs: Int, batchSize: Int = 32, shuffle: Bool = true, reinitializeWeights: Bool = true
  ) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.reinitializeWeights = reinitializeWeights
  }

  func fitOptions(seed: UInt64) -> FitOptions {
    FitOptions(epochs: epochs, batchSize: batchSize, shuffle: shuffle, seed: seed)
  }
}
