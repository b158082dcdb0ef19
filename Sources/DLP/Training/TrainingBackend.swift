/// Which data a batch's row indices refer to.
public enum DataRole: Int, Sendable {
  case train = 0, validation = 1, test = 2
}

/// How steps run: in this process (`LocalBackend`) or across worker processes (the cluster's
/// coordinator). `fit` is a loop of callbacks around these two calls.
public protocol TrainingBackend: AnyObject {
  /// Trains on one global batch, `rows` of the training data, and adds the batch's statistics
  /// (a `StatsLayout` vector, regularisation penalty included) into `stats`. `step` counts the
  /// training steps before this one in this fit (it keys the dropout masks).
  func trainStep(rows: UnsafeBufferPointer<Int>, epoch: Int, step: UInt64, stats: UnsafeMutablePointer<Double>) throws
  /// Evaluates `rows` of `role`'s data into `stats` (inference mode; penalty included, as Keras).
  func evaluateStep(rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>) throws
  /// Called before each epoch (the coordinator uses it to tell workers the epoch).
  func beginEpoch(_ epoch: Int) throws
  /// Called after an epoch's last `trainStep` and before a commit: a backend that runs steps
  /// ahead of their statistics (the coordinator keeps several steps in flight) adds the
  /// outstanding ones into `stats` before returning, so the figures are complete.
  func settle(stats: UnsafeMutablePointer<Double>) throws
  /// The model's state after the last `trainStep` (every weight and optimizer slot), which the
  /// backend keeps as the point a later `TrainingRollback` returns its replicas to.
  func commit() throws -> TrainingState
  /// Puts a saved state into effect before a resumed fit's first step.
  func restore(_ state: TrainingState) throws
}

extension TrainingBackend {
  public func beginEpoch(_ epoch: Int) throws {}
  public func settle(stats: UnsafeMutablePointer<Double>) throws {}
}

extension Model {
  /// Adds every regulariser's penalty gradient into the gradient buffer and returns the total
  /// penalty. Runs once per global batch, after gradients are summed. `range` limits both to a
  /// part of the flat buffer (a ring worker regularises only the shard it owns).
  public func applyRegularization(addGradients: Bool, range: Range<Int>? = nil) -> Double {
    var total = 0.0
    for layer in layers {
      for (i, spec) in layer.weightSpecs.enumerated() {
        guard let reg = spec.regularizer else { continue }
        let start = layer.binding!.offsets[i]
        var lo = 0
        var hi = spec.count
        if let r = range {
          lo = Swift.max(0, r.lowerBound - start)
          hi = Swift.min(spec.count, r.upperBound - start)
          if lo >= hi { continue }
        }
        total += reg.penalty(layer.weight(i) + lo, count: hi - lo)
        if addGradients && layer.trainable {
          reg.addGradient(layer.weight(i) + lo, into: layer.weightGrad(i) + lo, count: hi - lo)
        }
      }
    }
    return total
  }

  public var hasRegularizers: Bool { layers.contains { $0.weightSpecs.contains { $0.regularizer != nil } } }
}

/// Runs every step in this process: one replica of the model that sees every global batch and
/// computes its part of it (`partition`: all of it in-process; a member's part in a K-fold
/// group), through a `ShardedStep` on `collective`. With several replicas, each batch's
/// statistics are summed across them in replica order, so every replica's `fit` sees the same
/// figures (and stops on a NaN at the same batch).
public final class ReplicaBackend: TrainingBackend {
  public let model: Model
  public let data: [DataRole: ArrayData]
  public let step: ShardedStep
  public let partition: BatchPartition
  private var local: [Double]

  public init(
    model: Model, data: [DataRole: ArrayData], batchSize: Int,
    collective: StepCollective = LocalCollective(), partition: BatchPartition = .whole
  ) throws {
    let c = try model.requireCompiled()
    for (role, d) in data { try d.validate(for: model, needTargets: role != .test || !d.targets.isEmpty) }
    self.model = model
    self.data = data
    self.partition = partition
    let capacity = partition.part(of: batchSize).count
    step = try ShardedStep(model: model, capacity: capacity, collective: collective)
    local = [Double](repeating: 0, count: c.layout.size)
  }

  public func trainStep(rows: UnsafeBufferPointer<Int>, epoch: Int, step trainStep: UInt64, stats: UnsafeMutablePointer<Double>) throws {
    let part = partition.part(of: rows.count)
    try withLocalStats(into: stats) { local in
      try step.train(
        rows: UnsafeBufferPointer(rebasing: rows[part]), of: data[.train], globalBatch: rows.count,
        rowOffset: part.lowerBound, trainStep: trainStep, stats: local)
    }
  }

  public func evaluateStep(rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>) throws {
    guard let d = data[role] else { throw DLPError.data("no \(role) data was given") }
    let part = partition.part(of: rows.count)
    try withLocalStats(into: stats) { local in
      step.evaluate(rows: UnsafeBufferPointer(rebasing: rows[part]), of: d, stats: local)
    }
  }

  /// The whole state, when this replica owns every weight (in-process). A replica of a group
  /// owns a shard of the optimizer state only; K-fold groups restart a lost task instead.
  public func commit() throws -> TrainingState { try TrainingState(capturing: model) }

  public func restore(_ state: TrainingState) throws { try state.restore(into: model, shard: step.owned) }

  /// Runs `body` on this replica's statistics, then adds the replicas' sum into `stats`.
  private func withLocalStats(
    into stats: UnsafeMutablePointer<Double>, _ body: (UnsafeMutablePointer<Double>) throws -> Void
  ) throws {
    guard partition.replicas > 1 else { return try body(stats) }
    try local.withUnsafeMutableBufferPointer { l in
      for i in l.indices { l[i] = 0 }
      try body(l.baseAddress!)
      try step.collective.sumAcrossReplicas(l)
      for i in l.indices { stats[i] += l[i] }
    }
  }
}

/// In-process training: a `ReplicaBackend` that holds every row and owns every weight.
public typealias LocalBackend = ReplicaBackend
