import DLP

/// What Keras's callbacks need from a distributed fit.
extension Coordinator {
  /// Under the ring collective only the workers hold the current weights: fetch them.
  public func syncWeightsToModel() throws { try syncWeights() }

  public func pushWeightsFromModel() throws { try pushWeights() }

  /// The central collective steps the optimizer here. Under the ring the workers step it and
  /// no message tells them a new rate yet.
  public func setLearningRate(_ rate: Float, of model: Model) throws {
    guard stepsOptimizer else {
      throw DLPError.config(
        "changing the learning rate during training (ReduceLROnPlateau) under --allreduce ring is not supported yet: the workers step the optimizer and no message carries a new rate; use --allreduce central"
      )
    }
    guard let o = model.compiled?.optimizer else { return }
    if let s = o.schedule {
      throw DLPError.config(
        "the optimizer's learning rate comes from a \(s.kerasClassName) schedule, so it cannot be set (ReduceLROnPlateau needs a plain learning rate)"
      )
    }
    o.learningRate = rate
  }

  public var holdsOptimizerState: Bool { stepsOptimizer }
}
