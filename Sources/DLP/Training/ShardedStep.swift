/// One data-parallel training step, the only one in DLP: this replica's rows of a global batch
/// -> its gradient -> the collective -> its optimizer shard -> the all-gather. In-process
/// training, every worker, the coordinator's central root and each member of a K-fold group run
/// this same code; only the `StepCollective` differs.
///
///     forward(my rows) -> loss (summed, scaled by 1 / global batch) -> backward
///     reduceScatter(gradients)             // my owned range now holds the global gradient
///     regularise + optimizer on my range   // terms of the batch as a whole: added once, by the owner
///     allGather(weights)                   // every replica has every owner's weights
///
/// A replica may hold no rows (a short last batch, the central root); it still makes every
/// collective call, so no replica waits for one that skipped.
public final class ShardedStep {
  public let model: Model
  public let executor: GraphExecutor
  public let collective: StepCollective
  /// The part of the flat parameter buffer this replica regularises and steps.
  public let owned: Range<Int>

  /// - Parameter capacity: the most rows this replica holds in one step.
  public init(model: Model, capacity: Int, collective: StepCollective = LocalCollective()) throws {
    let c = try model.requireCompiled()
    self.model = model
    self.collective = collective
    executor = GraphExecutor(model: model, capacity: Swift.max(capacity, 1))
    owned = collective.ownedRange(count: model.parameters.count)
    // The optimizer's slots cover what this replica steps. In-process they already do (and
    // keep their state from an earlier fit, as Keras's do); a new shard starts from zero, or
    // from state a job hands over (`TrainingState.restore`).
    if c.optimizer.shard != owned || !c.optimizer.isPrepared { c.optimizer.prepare(shard: owned) }
  }

  /// Trains on `rows` of `data`: this replica's part of a global batch of `globalBatch` rows,
  /// whose first row is row `rowOffset` of the batch (it keys the dropout masks, with
  /// `trainStep`, the training steps before this one). Adds this replica's statistics into
  /// `stats` (a `StatsLayout` vector): its rows' losses and metrics, and the regularisation
  /// penalty of the weights it owns times the global batch size, so the replicas' statistics
  /// add up to the batch's.
  public func train(
    rows: UnsafeBufferPointer<Int>, of data: ArrayData?, globalBatch: Int, rowOffset: Int,
    trainStep: UInt64, stats: UnsafeMutablePointer<Double>
  ) throws {
    let n = rows.count
    if n > 0, let data { executor.load(rows: rows, from: data, targets: true) }
    executor.forward(batch: n, training: true, trainStep: trainStep, rowOffset: rowOffset)
    executor.loss(batch: n, stats: stats, gradScale: 1 / Float(Swift.max(globalBatch, 1)))
    executor.backward(batch: n)
    let p = model.parameters
    try collective.reduceScatter(p.gradBuffer)
    if model.hasRegularizers {
      stats[0] += model.applyRegularization(addGradients: true, range: owned) * Double(globalBatch)
    }
    model.compiled!.optimizer.apply(
      params: p.values, grads: p.grads, ranges: p.trainableRanges, total: p.count)
    try collective.allGather(p.valueBuffer)
  }

  /// Evaluates `rows` of `data` in inference mode, adding their statistics (penalty included
  /// once per row, as Keras's evaluate reports it) into `stats`.
  public func evaluate(rows: UnsafeBufferPointer<Int>, of data: ArrayData, stats: UnsafeMutablePointer<Double>) {
    let n = rows.count
    if n > 0 { executor.load(rows: rows, from: data, targets: true) }
    executor.forward(batch: n, training: false)
    executor.loss(batch: n, stats: stats, gradScale: nil)
    if model.hasRegularizers { stats[0] += model.applyRegularization(addGradients: false) * Double(n) }
  }
}
