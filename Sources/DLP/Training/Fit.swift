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
/// batching, the step count that keys dropout, validation, History,
/// progress and TerminateOnNaN.
public enum Trainer {
  public static func fit(
    model: Model, backend: TrainingBackend, trainCount: Int, validationCount: Int,
    options: FitOptions,
    progress: ProgressPrinter = ProgressPrinter(mode: .silent), onEpochEnd: EpochCallback? = nil
  ) throws -> History {
    try options.validate()
    let c = try model.requireCompiled()
    guard trainCount > 0 else { throw DLPError.data("no training samples") }
    // `trainable` may have changed since the last fit (freeze a base, unfreeze its top, ...).
    model.updateTrainableRanges()
    var history = History()
    history.trainSamples = trainCount
    var stats = [Double](repeating: 0, count: c.layout.size)
    let steps = (trainCount + options.batchSize - 1) / options.batchSize
    var orders = KerasEpochOrders(seed: options.seed, count: trainCount)
    var stepsDone: UInt64 = 0
    epochs: for epoch in options.initialEpoch..<options.epochs {
      try backend.beginEpoch(epoch)
      progress.beginEpoch(epoch + 1, of: options.epochs)
      let order = options.shuffle ? orders.next() : Array(0..<trainCount)
      for i in stats.indices { stats[i] = 0 }
      let start = Date()
      /// TerminateOnNaN: stops the fit when the loss so far is not finite (`batch` nil: at the
      /// epoch's end, once a backend that runs ahead has added every step).
      func stoppedOnNaN(batch: Int?, steps done: Int) -> Bool {
        guard !stats[0].isFinite else { return false }
        let at = batch.map { ", batch \($0)" } ?? ""
        history.stoppedReason =
          "loss became \(stats[0].isNaN ? "NaN" : "infinite") at epoch \(epoch + 1)\(at); training stopped (TerminateOnNaN)"
        progress.endEpoch(
          steps: done, elapsed: Date().timeIntervalSince(start),
          logs: c.layout.logs(stats, heads: c.heads))
        return true
      }
      for s in 0..<steps {
        let lo = s * options.batchSize
        let hi = Swift.min(lo + options.batchSize, trainCount)
        // A backend that loads batches itself (decoding images) starts on the next one now.
        if let prefetching = backend as? BatchPrefetching, hi < trainCount {
          order.withUnsafeBufferPointer { o in
            prefetching.prefetch(rows: UnsafeBufferPointer(rebasing: o[hi..<Swift.min(hi + options.batchSize, trainCount)]))
          }
        }
        try order.withUnsafeBufferPointer { o in
          try stats.withUnsafeMutableBufferPointer { st in
            try backend.trainStep(
              rows: UnsafeBufferPointer(rebasing: o[lo..<hi]), epoch: epoch, step: stepsDone,
              stats: st.baseAddress!)
          }
        }
        stepsDone += 1
        if stoppedOnNaN(batch: s + 1, steps: s + 1) { break epochs }
        if progress.mode == .bar {
          progress.step(
            s + 1, of: steps, elapsed: Date().timeIntervalSince(start),
            logs: c.layout.logs(stats, heads: c.heads))
        }
      }
      try stats.withUnsafeMutableBufferPointer { try backend.endEpoch(stats: $0.baseAddress!) }
      if stoppedOnNaN(batch: nil, steps: steps) { break epochs }
      let seconds = Date().timeIntervalSince(start)
      var logs = c.layout.logs(stats, heads: c.heads)
      if validationCount > 0 {
        let v = try evaluate(
          model: model, backend: backend, role: .validation, count: validationCount,
          batchSize: options.batchSize)
        for (k, x) in v { logs["val_" + k] = x }
      }
      history.append(epoch: epoch, logs: logs, seconds: seconds)
      progress.endEpoch(steps: steps, elapsed: seconds, logs: logs)
      if let cb = onEpochEnd, !cb(epoch, logs) { break }
    }
    return history
  }

  /// Evaluates `count` samples of `role` in order, batch by batch.
  public static func evaluate(
    model: Model, backend: TrainingBackend, role: DataRole, count: Int, batchSize: Int
  ) throws -> [String: Double] {
    let c = try model.requireCompiled()
    var stats = [Double](repeating: 0, count: c.layout.size)
    let rows = Array(0..<count)
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
    let data = try ArrayData(inputs: inputs)
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
