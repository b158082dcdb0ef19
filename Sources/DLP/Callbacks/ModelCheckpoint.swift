import Foundation

/// Keras's `ModelCheckpoint` (save_freq "epoch"): at each epoch's end writes the model to
/// `filepath` formatted with the epoch (1-based) and the logs (`"ckpt-{epoch:02d}.keras"`).
/// A `.keras` path gets the whole model (config, weights, and the optimizer's state when this
/// process holds it), `.weights.h5` the weights (Keras's `save_weights_only`), `.npz` DLP's
/// weights. With `saveBestOnly` it writes only when `monitor` improves on the best so far
/// (`initial_value_threshold` is the starting best; it is not reset between fits, as in Keras).
public final class ModelCheckpoint: Callback {
  public let filepath: String
  public private(set) var monitor: Monitor
  public let saveBestOnly: Bool
  public let verbose: Bool
  public private(set) var best: Double?
  /// The paths written, in order.
  public private(set) var saved: [String] = []
  private var context: TrainingContext?
  private let missing = OnceWarning()

  public init(
    filepath: String, monitor: String = "val_loss", saveBestOnly: Bool = false, mode: Monitor.Mode = .auto,
    initialValueThreshold: Double? = nil, verbose: Bool = false
  ) throws {
    let lower = filepath.lowercased()
    guard lower.hasSuffix(".keras") || lower.hasSuffix(".weights.h5") || lower.hasSuffix(".npz") else {
      throw DLPError.config(
        "The filepath provided must end in `.keras` (Keras model format), `.weights.h5` (Keras weights) or `.npz` (DLP weights). Received: filepath=\(filepath)"
      )
    }
    self.filepath = filepath
    self.monitor = Monitor(monitor, mode: mode)
    self.saveBestOnly = saveBestOnly
    self.verbose = verbose
    best = initialValueThreshold
  }

  public func setContext(_ context: TrainingContext) throws { self.context = context }

  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    guard let context else { return }
    try monitor.resolve(model: context.model, callback: "ModelCheckpoint")
    var values = logs.mapValues { PythonFormat.Value.double($0) }
    values["epoch"] = .int(epoch + 1)
    let path = try PythonFormat.format(filepath, values)
    if saveBestOnly {
      guard let current = logs[monitor.name] else {
        missing.warn("Can save best model only with \(monitor.name) available.")
        try save(path, context: context)
        return
      }
      let bestText = best.map { String(format: "%.5f", $0) } ?? "None"
      guard monitor.isImprovement(current, over: best) else {
        if verbose { print("\nEpoch \(epoch + 1): \(monitor.name) did not improve from \(bestText)") }
        return
      }
      if verbose {
        print(
          "\nEpoch \(epoch + 1): \(monitor.name) improved from \(bestText) to \(String(format: "%.5f", current)), saving model to \(path)"
        )
      }
      best = current
    } else if verbose {
      print("\nEpoch \(epoch + 1): saving model to \(path)")
    }
    try save(path, context: context)
  }

  func save(_ path: String, context: TrainingContext) throws {
    let dir = URL(fileURLWithPath: path).deletingLastPathComponent()
    try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory), isDirectory.boolValue {
      throw DLPError.io(
        "Please specify a non-directory filepath for ModelCheckpoint. Filepath used is an existing directory: \(path)")
    }
    try context.backend.syncWeightsToModel()
    if path.lowercased().hasSuffix(".keras") {
      try KerasArchive.save(context.model, to: path, includeOptimizer: context.backend.holdsOptimizerState)
    } else if path.lowercased().hasSuffix(".weights.h5") {
      try KerasWeightsFile.save(context.model, to: path, includeOptimizer: context.backend.holdsOptimizerState)
    } else {
      try WeightsFile.save(context.model, to: path)
    }
    saved.append(path)
  }
}
