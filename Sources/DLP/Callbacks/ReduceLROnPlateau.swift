import Foundation

/// Keras's `ReduceLROnPlateau`: multiplies the learning rate by `factor` (not below `minLR`)
/// when `monitor` has not improved by `minDelta` for `patience` epochs, then waits `cooldown`
/// epochs. Keras's defaults: monitor val_loss, factor 0.1, patience 10, mode auto, min_delta
/// 1e-4, cooldown 0, min_lr 0. Like Keras it adds the current rate to the logs as
/// `learning_rate`, so History, CSVLogger (after it) and the progress line show it.
public final class ReduceLROnPlateau: Callback {
  public private(set) var monitor: Monitor
  public let factor: Double
  public let patience: Int
  public let cooldown: Int
  public let minLR: Double
  public let verbose: Bool
  public private(set) var wait = 0
  public private(set) var cooldownCounter = 0
  public private(set) var best: Double?
  private var context: TrainingContext?
  private let missing = OnceWarning()

  public init(
    monitor: String = "val_loss", factor: Double = 0.1, patience: Int = 10, mode: Monitor.Mode = .auto,
    minDelta: Double = 1e-4, cooldown: Int = 0, minLR: Double = 0, verbose: Bool = false
  ) throws {
    guard factor < 1 else {
      throw DLPError.config("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=\(factor)")
    }
    guard patience >= 0, cooldown >= 0 else {
      throw DLPError.config(
        "ReduceLROnPlateau patience and cooldown must be >= 0. Received: patience=\(patience), cooldown=\(cooldown)")
    }
    self.monitor = Monitor(monitor, mode: mode, minDelta: minDelta)
    self.factor = factor
    self.patience = patience
    self.cooldown = cooldown
    self.minLR = minLR
    self.verbose = verbose
  }

  public func setContext(_ context: TrainingContext) throws { self.context = context }

  public func onTrainBegin(logs: inout [String: Double]) throws {
    best = nil
    cooldownCounter = 0
    wait = 0
  }

  var inCooldown: Bool { cooldownCounter > 0 }

  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    guard let context else { return }
    try monitor.resolve(model: context.model, callback: "ReduceLROnPlateau")
    logs["learning_rate"] = Double(context.learningRate)
    guard let current = logs[monitor.name] else {
      missing.warn(
        "Learning rate reduction is conditioned on metric `\(monitor.name)` which is not available. Available metrics are: \(logs.keys.sorted().joined(separator: ","))."
      )
      return
    }
    if inCooldown {
      cooldownCounter -= 1
      wait = 0
    }
    if monitor.isImprovement(current, over: best) {
      best = current
      wait = 0
    } else if !inCooldown {
      wait += 1
      if wait >= patience {
        // Keras reads the rate as float32 and compares with np.float32(min_lr).
        let old = Double(context.learningRate)
        if Float(old) > Float(minLR) {
          let new = Swift.max(old * factor, minLR)
          try context.backend.setLearningRate(Float(new), of: context.model)
          if verbose { print("\nEpoch \(epoch + 1): ReduceLROnPlateau reducing learning rate to \(new).") }
          cooldownCounter = cooldown
          wait = 0
        }
      }
    }
  }
}
