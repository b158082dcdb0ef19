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
  /// Called after an epoch's last `trainStep`: a backend that runs steps ahead of their
  /// statistics (the coordinator keeps several steps in flight) adds the outstanding ones into
  /// `stats` before returning, so the epoch's figures are complete.
  func endEpoch(stats: UnsafeMutablePointer<Double>) throws
}

extension TrainingBackend {
  public func beginEpoch(_ epoch: Int) throws {}
  public func endEpoch(stats: UnsafeMutablePointer<Double>) throws {}
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
        if addGradients && spec.trainable && trains(layer) {
          reg.addGradient(layer.weight(i) + lo, into: layer.weightGrad(i) + lo, count: hi - lo)
        }
      }
    }
    return total
  }

  public var hasRegularizers: Bool { layers.contains { $0.weightSpecs.contains { $0.regularizer != nil } } }
}

/// Runs steps in this process on one executor.
public final class LocalBackend: TrainingBackend {
  public let model: Model
  public let data: [DataRole: ArrayData]
  let executor: GraphExecutor

  public init(model: Model, data: [DataRole: ArrayData], batchSize: Int) throws {
    let c = try model.requireCompiled()
    _ = c
    for (role, d) in data { try d.validate(for: model, needTargets: role != .test || !d.targets.isEmpty) }
    self.model = model
    self.data = data
    executor = GraphExecutor(model: model, capacity: batchSize)
  }

  public func trainStep(rows: UnsafeBufferPointer<Int>, epoch: Int, step: UInt64, stats: UnsafeMutablePointer<Double>) throws {
    let c = model.compiled!
    let batch = rows.count
    executor.load(rows: rows, from: data[.train]!, targets: true)
    executor.forward(batch: batch, training: true, trainStep: step)
    executor.loss(batch: batch, stats: stats, gradScale: 1 / Float(batch))
    executor.backward(batch: batch)
    let p = model.parameters
    if model.hasRegularizers { stats[0] += model.applyRegularization(addGradients: true) * Double(batch) }
    c.optimizer.apply(params: p.values, grads: p.grads, ranges: p.trainableRanges, total: p.count)
  }

  public func evaluateStep(rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>) throws {
    guard let d = data[role] else { throw DLPError.data("no \(role) data was given") }
    executor.load(rows: rows, from: d, targets: true)
    executor.forward(batch: rows.count, training: false)
    executor.loss(batch: rows.count, stats: stats, gradScale: nil)
    if model.hasRegularizers { stats[0] += model.applyRegularization(addGradients: false) * Double(rows.count) }
  }
}
