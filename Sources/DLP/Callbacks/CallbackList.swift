/// Keras's `CallbackList`: calls every callback's hook in order. Logs pass through the callbacks
/// one after the other, each seeing what the ones before it changed.
public final class CallbackList {
  public let callbacks: [Callback]

  public init(_ callbacks: [Callback]) {
    self.callbacks = callbacks
  }

  public var isEmpty: Bool { callbacks.isEmpty }

  func setContext(_ context: TrainingContext) throws {
    for c in callbacks { try c.setContext(context) }
  }

  func onTrainBegin(logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTrainBegin(logs: &logs) }
  }

  func onTrainEnd(logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTrainEnd(logs: &logs) }
  }

  func onEpochBegin(_ epoch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onEpochBegin(epoch, logs: &logs) }
  }

  func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onEpochEnd(epoch, logs: &logs) }
  }

  func onTrainBatchBegin(_ batch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTrainBatchBegin(batch, logs: &logs) }
  }

  func onTrainBatchEnd(_ batch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTrainBatchEnd(batch, logs: &logs) }
  }

  func onTestBegin(logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTestBegin(logs: &logs) }
  }

  func onTestEnd(logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTestEnd(logs: &logs) }
  }

  func onTestBatchBegin(_ batch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTestBatchBegin(batch, logs: &logs) }
  }

  func onTestBatchEnd(_ batch: Int, logs: inout [String: Double]) throws {
    for c in callbacks { try c.onTestBatchEnd(batch, logs: &logs) }
  }
}
