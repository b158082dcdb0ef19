import Foundation

/// Where a fit is: what a commit saves beside the model's `TrainingState`, and what a rollback
/// or a resume restores. Every random choice of a fit is a function of these (the epoch orders
/// of `KerasEpochOrders`, and the dropout keys of `stepsDone`), so a fit that continues from a
/// saved progress makes the same steps the uninterrupted one would have.
public struct FitProgress: Sendable {
  /// The epoch running (or next to run), and how many of its batches are trained.
  public internal(set) var epoch: Int
  public internal(set) var batch: Int
  /// Training steps before the next one in this fit (Keras's seed generators count them).
  public internal(set) var stepsDone: UInt64
  /// This epoch's statistics so far (a `StatsLayout` vector).
  public internal(set) var stats: [Double]
  /// Training seconds of this epoch so far.
  public internal(set) var epochSeconds: Double
  public internal(set) var history: History
  /// Epoch orders drawn so far in this fit (including this epoch's, once drawn).
  public internal(set) var ordersDrawn: Int
  /// Whether this epoch's order is drawn (its first batch may be about to run).
  public internal(set) var orderDrawn: Bool
  var orders: KerasEpochOrders
  var order: [Int]

  init(options: FitOptions, trainCount: Int, layoutSize: Int) {
    epoch = options.initialEpoch
    batch = 0
    stepsDone = 0
    stats = [Double](repeating: 0, count: layoutSize)
    epochSeconds = 0
    history = History()
    history.trainSamples = trainCount
    ordersDrawn = 0
    orderDrawn = false
    orders = KerasEpochOrders(seed: options.seed, count: trainCount)
    order = []
  }

  mutating func drawOrder(shuffle: Bool, count: Int) {
    if shuffle {
      order = orders.next()
      ordersDrawn += 1
    } else {
      order = Array(0..<count)
    }
    orderDrawn = true
  }

  mutating func nextEpoch() {
    epoch += 1
    batch = 0
    orderDrawn = false
    order = []
    epochSeconds = 0
  }

  /// This progress as a fit of `options` on `trainCount` samples continues it: the epoch orders
  /// replayed from the seed up to this epoch's (drawing a permutation costs about a millisecond
  /// per 60k samples), after checking it belongs to such a fit.
  func resumed(options: FitOptions, trainCount: Int, layoutSize: Int) throws -> FitProgress {
    guard stats.count == layoutSize, history.trainSamples == trainCount || history.trainSamples == 0,
      epoch >= options.initialEpoch, epoch <= options.epochs, batch >= 0,
      batch <= (trainCount + options.batchSize - 1) / options.batchSize
    else {
      throw DLPError.config(
        "the saved progress (epoch \(epoch + 1), batch \(batch), \(history.trainSamples) samples) does not belong to this fit (\(options.epochs) epochs of \(trainCount) samples, batch size \(options.batchSize))"
      )
    }
    var p = self
    p.history.trainSamples = trainCount
    p.orders = KerasEpochOrders(seed: options.seed, count: trainCount)
    p.order = []
    var lastOrder: [Int] = []
    if options.shuffle {
      for _ in 0..<ordersDrawn { lastOrder = p.orders.next() }
    } else {
      lastOrder = Array(0..<trainCount)
    }
    p.order = orderDrawn ? lastOrder : []
    return p
  }

  /// What a checkpoint stores of a progress (the orders are replayed, not stored).
  public struct Saved: Codable, Sendable, Equatable {
    public var epoch: Int
    public var batch: Int
    public var stepsDone: UInt64
    public var stats: [Double]
    public var epochSeconds: Double
    public var history: History
    public var ordersDrawn: Int
    public var orderDrawn: Bool
  }

  public var saved: Saved {
    Saved(
      epoch: epoch, batch: batch, stepsDone: stepsDone, stats: stats, epochSeconds: epochSeconds,
      history: history, ordersDrawn: ordersDrawn, orderDrawn: orderDrawn)
  }

  /// A progress to resume from a checkpoint (`Trainer.fit` replays its epoch orders).
  public init(saved s: Saved, options: FitOptions) {
    epoch = s.epoch
    batch = s.batch
    stepsDone = s.stepsDone
    stats = s.stats
    epochSeconds = s.epochSeconds
    history = s.history
    ordersDrawn = s.ordersDrawn
    orderDrawn = s.orderDrawn
    orders = KerasEpochOrders(seed: options.seed, count: Swift.max(s.history.trainSamples, 0))
    order = []
  }
}

/// A committed point of a fit: the model's state and where the loop was.
public struct FitCommit: Sendable {
  public var state: TrainingState
  public var progress: FitProgress

  public init(state: TrainingState, progress: FitProgress) {
    self.state = state
    self.progress = progress
  }
}

/// When a fit commits: after every training step whose count is a multiple of `everySteps`,
/// whenever `interval` seconds passed since the last commit (checked after each step), and at
/// the end of each epoch.
public struct CommitPolicy: Sendable, Equatable {
  public var everySteps: Int?
  public var interval: Double?
  public var atEpochEnds: Bool

  public init(everySteps: Int? = nil, interval: Double? = nil, atEpochEnds: Bool = true) {
    self.everySteps = everySteps
    self.interval = interval
    self.atEpochEnds = atEpochEnds
  }

  public static let never = CommitPolicy(everySteps: nil, interval: nil, atEpochEnds: false)

  public var isActive: Bool { everySteps != nil || interval != nil || atEpochEnds }

  func isDue(stepsDone: UInt64, seconds: Double) -> Bool {
    if let n = everySteps, n > 0, stepsDone % UInt64(n) == 0 { return true }
    if let t = interval, seconds >= t { return true }
    return false
  }
}

/// Thrown by a backend that lost a replica (or whose collective failed) and has already put
/// its replicas back to the state of the last commit: the fit continues from that commit.
public struct TrainingRollback: Error, CustomStringConvertible {
  public var reason: String
  public init(reason: String) { self.reason = reason }
  public var description: String { reason }
}
