import DLP

/// What Keras's callbacks ask of a training job on workers (`TrainingBackend+Callbacks`).
extension TrainingCoordinator {
  /// The coordinator's model gets the workers' current weights and optimizer state (gathered
  /// from their shards), without making that the rollback point: before a checkpoint or a
  /// `.keras` file is written, or when EarlyStopping records the best weights.
  public func syncWeightsToModel() throws {
    let state = try guarded { try currentState() }
    try state.restore(into: model, shard: 0..<model.parameters.count)
  }

  /// The workers continue from the coordinator's weights (EarlyStopping restored the best):
  /// a new generation with them, which is also the new rollback point.
  public func pushWeightsFromModel() throws {
    var state = try guarded { try currentState() }
    state.weights = model.parameters.snapshot()
    lastCommit = state
    stepsSinceCommit = 0
    try establish(active, state: state)
  }

  /// The coordinator's optimizer holds the rate; every step command carries it to the workers.
  public func setLearningRate(_ rate: Float, of model: Model) throws {
    guard let o = model.compiled?.optimizer else { return }
    if let s = o.schedule {
      throw DLPError.config(
        "the optimizer's learning rate comes from a \(s.kerasClassName) schedule, so it cannot be set (ReduceLROnPlateau needs a plain learning rate)"
      )
    }
    o.learningRate = rate
  }

  /// `syncWeightsToModel` brings the optimizer state too.
  public var holdsOptimizerState: Bool { true }
}
