/// What callbacks ask of the backend. In this process the model is where steps run, so the
/// defaults do nothing but set the rate; the cluster's coordinator overrides them (under the
/// ring collective only the workers hold the current weights, and they step the optimizer).
extension TrainingBackend {
  /// Brings the model's weights up to date with those steps run on (before a checkpoint, or
  /// when EarlyStopping records the best weights).
  public func syncWeightsToModel() throws {}

  /// Makes steps run on the model's weights from now on (after EarlyStopping restored the best).
  public func pushWeightsFromModel() throws {}

  /// Sets the learning rate of the optimizer that steps (ReduceLROnPlateau).
  public func setLearningRate(_ rate: Float, of model: Model) throws {
    guard let o = model.compiled?.optimizer else { return }
    if o.schedule != nil {
      // Keras: "This optimizer was created with a `LearningRateSchedule` object as its
      // `learning_rate` constructor argument, hence its learning rate is not settable."
      throw DLPError.config(
        "the optimizer's learning rate comes from a \(o.schedule!.kerasClassName) schedule, so it cannot be set (ReduceLROnPlateau needs a plain learning rate)"
      )
    }
    o.learningRate = rate
  }

  /// Whether the model's optimizer holds the current optimizer state (what a `.keras` file
  /// saves with the weights).
  public var holdsOptimizerState: Bool { true }
}
