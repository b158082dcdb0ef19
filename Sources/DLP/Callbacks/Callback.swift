/// Keras's `keras.callbacks.Callback`: hooks `Trainer.fit` calls around epochs, batches and
/// validation, with the logs of the moment. A callback may change the logs it is given (as
/// `ReduceLROnPlateau` adds `learning_rate`); callbacks later in the list, the History and the
/// progress line see the change, as in Keras, where History and the progress bar come last.
/// Every hook has an empty default.
public protocol Callback: AnyObject {
  /// Called before `onTrainBegin` (Keras's `set_model` and `set_params`).
  func setContext(_ context: TrainingContext) throws
  func onTrainBegin(logs: inout [String: Double]) throws
  /// Called when training ends normally, early stopping and TerminateOnNaN included, with the
  /// last epoch's logs.
  func onTrainEnd(logs: inout [String: Double]) throws
  func onEpochBegin(_ epoch: Int, logs: inout [String: Double]) throws
  /// `logs` holds the epoch's training figures and, after validation, the `val_` ones.
  func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws
  func onTrainBatchBegin(_ batch: Int, logs: inout [String: Double]) throws
  /// `logs` holds the running figures of the epoch so far.
  func onTrainBatchEnd(_ batch: Int, logs: inout [String: Double]) throws
  func onTestBegin(logs: inout [String: Double]) throws
  func onTestEnd(logs: inout [String: Double]) throws
  func onTestBatchBegin(_ batch: Int, logs: inout [String: Double]) throws
  func onTestBatchEnd(_ batch: Int, logs: inout [String: Double]) throws
}

extension Callback {
  public func setContext(_ context: TrainingContext) throws {}
  public func onTrainBegin(logs: inout [String: Double]) throws {}
  public func onTrainEnd(logs: inout [String: Double]) throws {}
  public func onEpochBegin(_ epoch: Int, logs: inout [String: Double]) throws {}
  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {}
  public func onTrainBatchBegin(_ batch: Int, logs: inout [String: Double]) throws {}
  public func onTrainBatchEnd(_ batch: Int, logs: inout [String: Double]) throws {}
  public func onTestBegin(logs: inout [String: Double]) throws {}
  public func onTestEnd(logs: inout [String: Double]) throws {}
  public func onTestBatchBegin(_ batch: Int, logs: inout [String: Double]) throws {}
  public func onTestBatchEnd(_ batch: Int, logs: inout [String: Double]) throws {}
}

/// What callbacks see of the fit they run in: Keras's `self.model` and `self.params`, and the
/// backend where steps run, for the callbacks that read or change weights or the learning rate
/// (under the ring collective only the workers hold the current weights and optimizer).
public final class TrainingContext {
  public let model: Model
  public let backend: TrainingBackend
  /// Keras's `params`: epochs and steps per epoch.
  public let epochs: Int
  public let steps: Int
  /// The optimizer's step count where steps run (Keras's `optimizer.iterations`): the count
  /// when the fit began plus the steps taken since.
  public internal(set) var iterations: Int

  init(model: Model, backend: TrainingBackend, epochs: Int, steps: Int) {
    self.model = model
    self.backend = backend
    self.epochs = epochs
    self.steps = steps
    iterations = model.compiled?.optimizer.iterations ?? 0
  }

  /// Keras's `model.stop_training`: set it to end the fit after the current batch or epoch.
  public var stopTraining: Bool {
    get { model.stopTraining }
    set { model.stopTraining = newValue }
  }

  /// The learning rate the next step uses (Keras's `optimizer.learning_rate`): the schedule's
  /// value at `iterations`, or the optimizer's rate.
  public var learningRate: Float {
    guard let o = model.compiled?.optimizer else { return 0 }
    return o.schedule?.rate(atStep: iterations) ?? o.learningRate
  }

  /// The model's current weights, fetched from where steps run first.
  public func currentWeights() throws -> [Float] {
    try backend.syncWeightsToModel()
    return model.parameters.snapshot()
  }

  /// Replaces the weights, here and where steps run.
  public func setWeights(_ flat: [Float]) throws {
    try model.parameters.load(flat)
    try backend.pushWeightsFromModel()
  }
}
