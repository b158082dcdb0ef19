/// What training has made of a model, complete enough to continue exactly where it was: every
/// weight, every optimizer slot over the whole flat buffer, the optimizer's step count and its
/// learning rate. A commit captures one; a rollback, a resume or a new worker takes it over.
public struct TrainingState: Sendable, Equatable {
  public var weights: [Float]
  /// One array per optimizer slot, each over the whole flat parameter buffer.
  public var slots: [[Float]]
  public var iterations: Int
  public var learningRate: Float

  public init(weights: [Float], slots: [[Float]], iterations: Int, learningRate: Float) {
    self.weights = weights
    self.slots = slots
    self.iterations = iterations
    self.learningRate = learningRate
  }

  /// The state of a model whose optimizer steps every weight (in-process, the central root).
  public init(capturing model: Model) throws {
    let c = try model.requireCompiled()
    let p = model.parameters
    let o = c.optimizer
    guard o.shard == 0..<p.count || o.slotCount == 0 else {
      throw DLPError.training(
        "the optimizer holds only its shard \(o.shard) of \(p.count) weights; gather the other shards first")
    }
    self.init(
      weights: p.snapshot(), slots: o.slotValues(), iterations: o.iterations, learningRate: o.learningRate)
  }

  /// Zeroed slots and no steps, with the model's current weights: where a fit starts.
  public static func fresh(_ model: Model) throws -> TrainingState {
    let c = try model.requireCompiled()
    let n = model.parameters.count
    return TrainingState(
      weights: model.parameters.snapshot(),
      slots: Array(repeating: [Float](repeating: 0, count: n), count: c.optimizer.slotCount),
      iterations: 0, learningRate: c.optimizer.learningRate)
  }

  /// Puts this state into `model`: all weights, and the optimizer's slots for `shard` (what
  /// this replica steps).
  public func restore(into model: Model, shard: Range<Int>) throws {
    let c = try model.requireCompiled()
    try model.parameters.load(weights)
    try c.optimizer.restore(shard: shard, slots: slots, iterations: iterations)
    c.optimizer.learningRate = learningRate
  }
}
