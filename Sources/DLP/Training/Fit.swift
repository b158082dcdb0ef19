import Foundation

/// Settings of `fit`, with Keras's defaults.
public struct FitOptions: Sendable {
  public var epochs = 1
  public var batchSize = 32
  public var shuffle = true
  public var seed: UInt64 = 0
  public var initialEpoch = 0

  public init(epochs: Int = 1, batchSize: Int = 32, shuffle: Bool = true, seed: UInt64 = 0) {
    self.epochs = epochs
    self.batchSize = batchSize
    self.shuffle = shuffle
    self.seed = seed
  }

  func validate() throws {
    guard epochs >= 0 else {
      throw DLPError.config("epochs must be >= 0. Received: epochs=\(epochs)")
    }
    guard batchSize > 0 else {
      throw DLPError.config("batch_size must be positive. Received: batch_size=\(batchSize)")
    }
  }
}

/// Called at the end of each epoch with its logs; return false to stop training.
public typealias EpochCallback = (_ epoch: Int, _ logs: [String: Double]) -> Bool

/// The training loop, independent of where steps run: per-epoch permutation (owned here, drawn
/// as Keras draws it from the seed, `KerasEpochOrders`, so no worker can repeat an order),
/// batching, the step count that keys dropout, validation, History, progress, TerminateOnNaN,
/// and commits: at the points `CommitPolicy` names, the loop saves where it is (`FitProgress`)
/// beside the backend's `TrainingState`; a backend that had to roll its replicas back to the
/// last commit throws `TrainingRollback` and the loop continues from that commit's progress; a
/// fit can also start from a saved commit (`resume`), which ends where the uninterrupted fit
/// would have.
public enum Trainer {
  public static func fit(
    model: Model, backend: TrainingBackend, trainCount: Int, validationCount: Int,
    options: FitOptions,
    progress: ProgressPrinter = ProgressPrinter(mode: .silent), onEpochEnd: EpochCallback? = nil,
    commits: CommitPolicy = .never, onCommit: ((FitCommit) throws -> Void)? = nil,
    resume: FitCommit? = nil
  ) throws -> History {
    try options.validate()
    let c = try model.requireCompiled()
    guard trainCount > 0 else { throw DLPError.data("no training samples") }
    // `trainable` may have changed since the last fit (freeze a base, unfreeze its top, ...).
    model.updateTrainableRanges()
    let steps = (trainCount + options.batchSize - 1) / options.batchSize
    var state: FitProgress
    if let resume {
      try backend.restore(resume.state)
      state = try resume.progress.resumed(options: options, trainCount: trainCount, layoutSize: c.layout.size)
    } else {
      state = FitProgress(options: options, trainCount: trainCount, layoutSize: c.layout.size)
    }
    var last: FitCommit?
    var lastCommitTime = Date()
    var stepsSinceCommit = 0
    func commit() throws {
      let snapshot = FitCommit(state: try backend.commit(), progress: state)
      last = snapshot
      lastCommitTime = Date()
      stepsSinceCommit = 0
      try onCommit?(snapshot)
    }
    // Something to roll back to from the first step on.
    if commits.isActive && resume == nil { try commit() }
    if let resume { last = resume }
    var epochStart = Date()

    epochs: while state.epoch < options.epochs {
      do {
        if state.batch == 0 && !state.orderDrawn {
          try backend.beginEpoch(state.epoch)
          progress.beginEpoch(state.epoch + 1, of: options.epochs)
          state.drawOrder(shuffle: options.shuffle, count: trainCount)
          for i in state.stats.indices { state.stats[i] = 0 }
          state.epochSeconds = 0
        }
        epochStart = Date().addingTimeInterval(-state.epochSeconds)
        /// TerminateOnNaN: stops the fit when the loss so far is not finite (`batch` nil: at the
        /// epoch's end, once a backend that runs ahead has added every step).
        func stoppedOnNaN(batch: Int?, steps done: Int) -> Bool {
          guard !state.stats[0].isFinite else { return false }
          let at = batch.map { ", batch \($0)" } ?? ""
          state.history.stoppedReason =
            "loss became \(state.stats[0].isNaN ? "NaN" : "infinite") at epoch \(state.epoch + 1)\(at); training stopped (TerminateOnNaN)"
          progress.endEpoch(
            steps: done, elapsed: Date().timeIntervalSince(epochStart),
            logs: c.layout.logs(state.stats, heads: c.heads))
          return true
        }
        while state.batch < steps {
          let lo = state.batch * options.batchSize
          let hi = Swift.min(lo + options.batchSize, trainCount)
          try state.order.withUnsafeBufferPointer { o in
            try state.stats.withUnsafeMutableBufferPointer { st in
              try backend.trainStep(
                rows: UnsafeBufferPointer(rebasing: o[lo..<hi]), epoch: state.epoch, step: state.stepsDone,
                stats: st.baseAddress!)
            }
          }
          state.stepsDone += 1
          state.batch += 1
          stepsSinceCommit += 1
          if stoppedOnNaN(batch: state.batch, steps: state.batch) { break epochs }
          if progress.mode == .bar {
            progress.step(
              state.batch, of: steps, elapsed: Date().timeIntervalSince(epochStart),
              logs: c.layout.logs(state.stats, heads: c.heads))
          }
          if state.batch < steps
            && commits.isDue(stepsDone: state.stepsDone, seconds: Date().timeIntervalSince(lastCommitTime))
          {
            state.epochSeconds = Date().timeIntervalSince(epochStart)
            try state.stats.withUnsafeMutableBufferPointer { try backend.settle(stats: $0.baseAddress!) }
            try commit()
          }
        }
        try state.stats.withUnsafeMutableBufferPointer { try backend.settle(stats: $0.baseAddress!) }
        if stoppedOnNaN(batch: nil, steps: steps) { break epochs }
        let seconds = Date().timeIntervalSince(epochStart)
        var logs = c.layout.logs(state.stats, heads: c.heads)
        if validationCount > 0 {
          let v = try evaluate(
            model: model, backend: backend, role: .validation, count: validationCount,
            batchSize: options.batchSize, retryOnRollback: false)
          for (k, x) in v { logs["val_" + k] = x }
        }
        state.history.append(epoch: state.epoch, logs: logs, seconds: seconds)
        progress.endEpoch(steps: steps, elapsed: seconds, logs: logs)
        state.nextEpoch()
        if let cb = onEpochEnd, !cb(state.epoch - 1, logs) { break }
        if commits.atEpochEnds { try commit() }
      } catch let rollback as TrainingRollback {
        guard let last else { throw DLPError.training("\(rollback.reason), before any commit") }
        state = last.progress
        stepsSinceCommit = 0
        lastCommitTime = Date()
        progress.note(
          "\(rollback.reason); continuing from epoch \(state.epoch + 1), batch \(state.batch) (step \(state.stepsDone))")
      }
    }
    return state.history
  }

  /// Evaluates `count` samples of `role` in order, batch by batch. A backend that re-formed
  /// its replicas mid-way (`TrainingRollback`) changed no weights: the evaluation starts over.
  public static func evaluate(
    model: Model, backend: TrainingBackend, role: DataRole, count: Int, batchSize: Int,
    retryOnRollback: Bool = true
  ) throws -> [String: Double] {
    let c = try model.requireCompiled()
    var stats = [Double](repeating: 0, count: c.layout.size)
    let rows = Array(0..<count)
    var attempts = 0
    while true {
      do {
        for i in stats.indices { stats[i] = 0 }
        var lo = 0
        while lo < count {
          let hi = Swift.min(lo + batchSize, count)
          try rows.withUnsafeBufferPointer { r in
            try stats.withUnsafeMutableBufferPointer { st in
              try backend.evaluateStep(
                rows: UnsafeBufferPointer(rebasing: r[lo..<hi]), role: role, stats: st.baseAddress!)
            }
          }
          lo = hi
        }
        return c.layout.logs(stats, heads: c.heads)
      } catch let rollback as TrainingRollback where retryOnRollback && attempts < 16 {
        attempts += 1
        _ = rollback
      }
    }
  }
}

extension Model {
  /// Keras's fit on in-memory data. `validationSplit` holds out the LAST fraction of the
  /// samples (before shuffling), as Keras does; `validationData` takes precedence.
  @discardableResult
  public func fit(
    _ data: ArrayData, options: FitOptions, validationSplit: Double = 0,
    validationData: ArrayData? = nil,
    progress: ProgressPrinter = ProgressPrinter(mode: .silent)
  ) throws -> History {
    guard validationSplit >= 0 && validationSplit < 1 else {
      throw DLPError.config(
        "validation_split must be in [0, 1). Received: validation_split=\(validationSplit)")
    }
    var train = data
    var validation = validationData
    if validation == nil && validationSplit > 0 {
      // Keras: split_at = int(n * (1 - validation_split)).
      let splitAt = Int(Double(data.count) * (1 - validationSplit))
      train = try data.slice(0..<splitAt)
      validation = try data.slice(splitAt..<data.count)
    }
    var roles: [DataRole: ArrayData] = [.train: train]
    if let v = validation { roles[.validation] = v }
    let backend = try LocalBackend(
      model: self, data: roles, batchSize: options.batchSize)
    return try Trainer.fit(
      model: self, backend: backend, trainCount: train.count,
      validationCount: validation?.count ?? 0, options: options,
      progress: progress)
  }

  /// Keras's evaluate: loss and metrics over `data`.
  public func evaluate(_ data: ArrayData, batchSize: Int = 32) throws -> [String: Double] {
    let backend = try LocalBackend(model: self, data: [.test: data], batchSize: batchSize)
    return try Trainer.evaluate(
      model: self, backend: backend, role: .test, count: data.count, batchSize: batchSize)
  }

  /// Keras's predict: one tensor per output (probabilities for softmax/sigmoid outputs).
  public func predict(_ inputs: [Tensor], batchSize: Int = 32) throws -> [Tensor] {
    try predict(ArrayData(inputs: inputs), batchSize: batchSize)
  }

  /// The outputs for `data`'s inputs, which may be stored in any element type (integer ids
  /// for an int32 input).
  public func predict(_ data: ArrayData, batchSize: Int = 32) throws -> [Tensor] {
    try data.validate(for: self, needTargets: false)
    if compiled == nil { try compile(optimizer: SGD(), losses: [MeanSquaredError()]) }
    let executor = GraphExecutor(model: self, capacity: batchSize)
    let heads = compiled!.heads
    let n = data.count
    var results = heads.map { [Float](repeating: 0, count: n * $0.width) }
    let rows = Array(0..<n)
    var lo = 0
    while lo < n {
      let hi = Swift.min(lo + batchSize, n)
      rows.withUnsafeBufferPointer { r in
        executor.load(rows: UnsafeBufferPointer(rebasing: r[lo..<hi]), from: data, targets: false)
      }
      executor.forward(batch: hi - lo, training: false)
      for (k, h) in heads.enumerated() {
        let out = executor.output(node: h.nodeIndex)
        results[k].withUnsafeMutableBufferPointer { dst in
          let d = dst.baseAddress! + lo * h.width
          d.update(from: out, count: (hi - lo) * h.width)
          // A fused output holds logits: apply the activation the loss would have applied.
          if h.fused { h.loss.fusableActivation!.apply(d, rows: hi - lo, width: h.width) }
        }
      }
      lo = hi
    }
    return zip(outputs, results).map { o, r in Tensor(uncheckedShape: [n] + o.shape, scalars: r) }
  }

  public func predict(_ x: Tensor, batchSize: Int = 32) throws -> Tensor {
    try predict([x], batchSize: batchSize)[0]
  }
}
