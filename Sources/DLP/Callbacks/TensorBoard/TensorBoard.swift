import Foundation

/// Keras's `TensorBoard` callback with its defaults (update_freq "epoch", write_graph true, no
/// histograms): event files under `logDir/train` and `logDir/validation`, read by TensorBoard.
///
/// - train: the model's config at step 0 (tag `keras`, for the conceptual graph), then at each
///   epoch `epoch_<name>` for every training log and `epoch_learning_rate`;
/// - validation: `evaluation_<name>_vs_iterations` at each validation's end (step: the
///   optimizer's iterations) and `epoch_<name>` for the `val_` logs without their prefix.
/// Steps of the epoch scalars are the 0-based epoch, as in Keras.
public final class TensorBoard: Callback {
  public let logDir: String
  private var context: TrainingContext?
  private var train: EventFileWriter?
  private var validation: EventFileWriter?

  public init(logDir: String = "logs") {
    self.logDir = logDir
  }

  var trainDir: String { URL(fileURLWithPath: logDir).appendingPathComponent("train").path }
  var validationDir: String { URL(fileURLWithPath: logDir).appendingPathComponent("validation").path }

  /// The file paths written so far (train, then validation).
  public var eventFiles: [String] { [train?.path, validation?.path].compactMap { $0 } }

  public func setContext(_ context: TrainingContext) throws {
    self.context = context
    train = nil
    validation = nil
    // Keras's set_model writes the model summary (write_graph=True) into the train writer.
    let writer = try trainWriter()
    writer.append(
      EventMessages.kerasModelEvent(json: context.model.toJSON(), step: 0, wallTime: Date().timeIntervalSince1970))
    try writer.flush()
  }

  func trainWriter() throws -> EventFileWriter {
    if let t = train { return t }
    let t = try EventFileWriter(directory: trainDir)
    train = t
    return t
  }

  func validationWriter() throws -> EventFileWriter {
    if let v = validation { return v }
    let v = try EventFileWriter(directory: validationDir)
    validation = v
    return v
  }

  public func onTestEnd(logs: inout [String: Double]) throws {
    guard let context else { return }
    let writer = try validationWriter()
    for name in logs.keys.sorted() {
      writer.scalar("evaluation_\(name)_vs_iterations", logs[name]!, step: context.iterations)
    }
  }

  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    guard let context, !logs.isEmpty else { return }
    var trainLogs = logs.filter { !$0.key.hasPrefix("val_") }
    let valLogs = logs.filter { $0.key.hasPrefix("val_") }
    trainLogs["learning_rate"] = Double(context.learningRate)
    let t = try trainWriter()
    for name in trainLogs.keys.sorted() { t.scalar("epoch_" + name, trainLogs[name]!, step: epoch) }
    try t.flush()
    if !valLogs.isEmpty {
      let v = try validationWriter()
      for name in valLogs.keys.sorted() { v.scalar("epoch_" + name.dropFirst(4), valLogs[name]!, step: epoch) }
      try v.flush()
    }
  }

  public func onTrainEnd(logs: inout [String: Double]) throws {
    try train?.close()
    try validation?.close()
  }
}
