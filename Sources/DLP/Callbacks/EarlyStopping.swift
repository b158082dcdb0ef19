import Foundation

/// Keras's `EarlyStopping`: stops training when `monitor` has not improved for `patience`
/// epochs. Defaults are Keras's (monitor val_loss, min_delta 0, patience 0, mode auto, no
/// baseline, restore_best_weights false, start_from_epoch 0), and so is the bookkeeping: `wait`
/// counts epochs since the last improvement, and training stops at the end of the epoch where
/// it reaches `patience` (so with patience P it stops P epochs after the best one).
public final class EarlyStopping: Callback {
  public private(set) var monitor: Monitor
  public let patience: Int
  public let baseline: Double?
  public let restoreBestWeights: Bool
  public let startFromEpoch: Int
  public let verbose: Bool

  public private(set) var wait = 0
  /// The epoch (0-based) training stopped at, 0 when it did not stop early (Keras's
  /// `stopped_epoch`).
  public private(set) var stoppedEpoch = 0
  public private(set) var best: Double?
  public private(set) var bestEpoch = 0
  private var bestWeights: [Float]?
  private var context: TrainingContext?
  private let missing = OnceWarning()

  public init(
    monitor: String = "val_loss", minDelta: Double = 0, patience: Int = 0, mode: Monitor.Mode = .auto,
    baseline: Double? = nil, restoreBestWeights: Bool = false, startFromEpoch: Int = 0, verbose: Bool = false
  ) throws {
    guard patience >= 0 else {
      throw DLPError.config("EarlyStopping patience must be >= 0. Received: patience=\(patience)")
    }
    self.monitor = Monitor(monitor, mode: mode, minDelta: minDelta)
    self.patience = patience
    self.baseline = baseline
    self.restoreBestWeights = restoreBestWeights
    self.startFromEpoch = startFromEpoch
    self.verbose = verbose
  }

  public func setContext(_ context: TrainingContext) throws { self.context = context }

  public func onTrainBegin(logs: inout [String: Double]) throws {
    // Keras resets these so that one instance serves several fits.
    wait = 0
    stoppedEpoch = 0
    best = nil
    bestWeights = nil
    bestEpoch = 0
  }

  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    guard let context else { return }
    try monitor.resolve(model: context.model, callback: "EarlyStopping")
    guard let current = logs[monitor.name] else {
      missing.warn(
        "Early stopping conditioned on metric `\(monitor.name)` which is not available. Available metrics are: \(logs.keys.sorted().joined(separator: ","))"
      )
      return
    }
    if epoch < startFromEpoch { return }
    if restoreBestWeights && bestWeights == nil {
      // If best weights were never set, the current weights are the best.
      bestWeights = try context.currentWeights()
      bestEpoch = epoch
    }
    wait += 1
    if monitor.isImprovement(current, over: best) {
      best = current
      bestEpoch = epoch
      if restoreBestWeights { bestWeights = try context.currentWeights() }
      // Only restart wait if we beat both the baseline and our previous best.
      if baseline == nil || monitor.isImprovement(current, over: baseline) { wait = 0 }
      return
    }
    if wait >= patience && epoch > 0 {
      stoppedEpoch = epoch
      context.stopTraining = true
    }
  }

  public func onTrainEnd(logs: inout [String: Double]) throws {
    if stoppedEpoch > 0 && verbose { print("Epoch \(stoppedEpoch + 1): early stopping") }
    if restoreBestWeights, let weights = bestWeights, let context {
      if verbose { print("Restoring model weights from the end of the best epoch: \(bestEpoch + 1).") }
      try context.setWeights(weights)
    }
  }
}
