/// The shared machinery of optimizers (Keras's base Optimizer): slots allocated on first update,
/// the step counter, the walk over trainable ranges. A subclass names its slots and implements
/// one flat `updateStep` over a contiguous range.
///
/// An optimizer may own only a shard of the parameters (ZeRO stage 1: each ring worker updates
/// the part of the flat buffer it reduced); its slots then cover just that shard.
open class Optimizer {
  /// The rate the next step uses; with a `schedule`, set from it before each step.
  public var learningRate: Float
  /// Keras's `learning_rate` given as a schedule object: the rate of step t is `schedule(t)`,
  /// t counted by `iterations` (the same on every worker).
  public var schedule: LearningRateSchedule? {
    didSet { if let s = schedule { learningRate = s.rate(atStep: iterations) } }
  }
  /// Completed steps (Keras's `iterations`).
  public internal(set) var iterations = 0
  /// The flat-buffer range this optimizer's slots cover.
  public private(set) var shard: Range<Int> = 0..<0
  private(set) var slots: [UnsafeMutablePointer<Float>] = []
  /// Whether `prepare` has sized the slots (an empty shard is a valid one: a worker of the
  /// central collective steps nothing).
  public private(set) var isPrepared = false

  public init(learningRate: Float) {
    self.learningRate = learningRate
  }

  deinit { for s in slots { s.deallocate() } }

  /// Keras's class name and its `get_config()`.
  open var kerasClassName: String { "Optimizer" }
  open var kerasName: String { kerasClassName.lowercased() }
  open func config() -> [String: JSONValue] { [:] }
  /// Slots per parameter (momentum: 1, adam: 2).
  open var slotCount: Int { 0 }

  /// Updates `params[0..<count]` from `grads[0..<count]`; `slots[k] + slotOffset` is slot k of
  /// `params[0]` (the slots are passed whole, so a step builds no array). `step` is the 1-based
  /// step number.
  open func updateStep(
    params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
    slots: [UnsafeMutablePointer<Float>],
    slotOffset: Int, count: Int, step: Int
  ) {}

  /// Allocates zeroed slots for `shard` (the whole buffer unless sharded). Resets state.
  public func prepare(shard: Range<Int>) {
    for s in slots { s.deallocate() }
    self.shard = shard
    slots = (0..<slotCount).map { _ in
      let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(shard.count, 1))
      p.initialize(repeating: 0, count: Swift.max(shard.count, 1))
      return p
    }
    iterations = 0
    isPrepared = true
  }

  /// One optimizer step over the trainable `ranges` (intersected with the shard).
  public func apply(
    params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>, ranges: [Range<Int>],
    total: Int
  ) {
    if !isPrepared || slots.count != slotCount { prepare(shard: 0..<total) }
    if let s = schedule { learningRate = s.rate(atStep: iterations) }
    let step = iterations + 1
    for r in ranges {
      let lo = Swift.max(r.lowerBound, shard.lowerBound)
      let hi = Swift.min(r.upperBound, shard.upperBound)
      guard lo < hi else { continue }
      let local = lo - shard.lowerBound
      // Element-wise and memory-bound: split across the cores BLAS uses, one contiguous half
      // (third...) per thread, as the weight gradient's sgemm split its rows, so each thread
      // steps the gradient its own cache holds (more, smaller chunks handed out dynamically
      // made the MLP's update four times slower, pulling every line across cores).
      Parallel.forEach(hi - lo, minimumPerChunk: 1 << 16) { _, r in
        updateStep(
          params: params + lo + r.lowerBound, grads: grads + lo + r.lowerBound,
          slots: slots, slotOffset: local + r.lowerBound, count: r.count, step: step)
      }
    }
    iterations = step
  }

  /// The slots as flat arrays over the shard (for checkpoints).
  public func slotValues() -> [[Float]] {
    slots.map { Array(UnsafeBufferPointer(start: $0, count: shard.count)) }
  }

  /// Slot `k` over the shard, in place (a commit copies it out, a reconfiguration in).
  public func slot(_ k: Int) -> UnsafeMutableBufferPointer<Float> {
    UnsafeMutableBufferPointer(start: slots[k], count: shard.count)
  }

  /// Takes over optimizer state: slots sized for `shard` and filled from `full` (each slot over
  /// the whole flat buffer, or empty for zeros), and the completed step count.
  public func restore(shard: Range<Int>, slots full: [[Float]], iterations: Int) throws {
    guard full.isEmpty || full.count == slotCount else {
      throw DLPError.config(
        "\(kerasClassName) keeps \(slotCount) slots; the saved state has \(full.count)")
    }
    for s in full where s.count < shard.upperBound {
      throw DLPError.config(
        "saved optimizer slots hold \(s.count) values; the shard needs \(shard.upperBound)")
    }
    prepare(shard: shard)
    for (k, s) in full.enumerated() {
      s.withUnsafeBufferPointer { src in
        slots[k].update(from: src.baseAddress! + shard.lowerBound, count: shard.count)
      }
    }
    self.iterations = iterations
  }
}

public enum Optimizers {
  /// Looks an optimizer up by Keras name with Keras's defaults; `learningRate` overrides.
  public static func named(_ name: String, learningRate: Float? = nil) throws -> Optimizer {
    switch name.lowercased() {
    case "sgd": return SGD(learningRate: learningRate ?? 0.01)
    case "rmsprop": return RMSprop(learningRate: learningRate ?? 0.001)
    case "adam": return Adam(learningRate: learningRate ?? 0.001)
    default: throw DLPError.config("unsupported optimizer '\(name)'; expected sgd, rmsprop or adam")
    }
  }
}
