import Dispatch
import Foundation

/// A backend that is told the next training batch while it trains on the current one, so it
/// can load it meanwhile (`Trainer.fit` calls `prefetch` before each `trainStep`).
public protocol BatchPrefetching: AnyObject {
  /// The rows of the training batch after the one about to be trained on.
  func prefetch(rows: UnsafeBufferPointer<Int>)
}

/// Trains in this process on images decoded batch by batch from their files, for folders
/// whose decoded images do not fit the memory budget: each batch is decoded and resized on
/// worker threads while the previous one trains (`BatchPrefetching`); nothing but the current
/// and the next batch is held decoded. The step itself is `ShardedStep`'s, as in-process.
public final class ImageStreamBackend: TrainingBackend, BatchPrefetching {
  /// One role's samples: files of a loader (by index) and their targets (one row each).
  public struct Source {
    public let loader: ImageFolderLoader
    public let files: [Int]
    public let targets: Tensor

    public init(loader: ImageFolderLoader, files: [Int], targets: Tensor) {
      self.loader = loader
      self.files = files
      self.targets = targets
    }
  }

  public let model: Model
  let sources: [DataRole: Source]
  let step: ShardedStep
  var executor: GraphExecutor { step.executor }
  let inputNode: Int
  let threads: Int
  /// The next batch, decoded in the background into `staging`.
  private let queue = DispatchQueue(label: "dlp.image-prefetch")
  private let staging: UnsafeMutablePointer<Float>
  private var staged: [Int]?
  private var pending: DispatchGroup?
  private var stagingError: Error?

  public init(model: Model, sources: [DataRole: Source], batchSize: Int, threads: Int) throws {
    let c = try model.requireCompiled()
    guard model.inputs.count == 1, c.heads.count == 1 else {
      throw DLPError.config("image folders feed single-input, single-output models")
    }
    let width = model.inputs[0].shape.reduce(1, *)
    for (role, s) in sources {
      guard s.loader.sampleWidth == width else {
        throw DLPError.shape(
          "input '\(model.inputs[0].node.layer.name)' expects samples of shape \(model.inputs[0].shape); the \(role) images are \(s.loader.sampleShape)"
        )
      }
      guard s.targets.rowWidth == c.heads[0].targetWidth, s.targets.shape[0] == s.files.count else {
        throw DLPError.shape(
          "output '\(c.heads[0].name)' expects \(c.heads[0].targetWidth) target values per sample; the labels have shape \(s.targets.shape)"
        )
      }
    }
    self.model = model
    self.sources = sources
    self.threads = Swift.max(1, threads)
    step = try ShardedStep(model: model, capacity: batchSize)
    inputNode = model.nodes.firstIndex { $0 === model.inputs[0].node }!
    staging = .allocate(capacity: Swift.max(1, batchSize * width))
  }

  public func prefetch(rows: UnsafeBufferPointer<Int>) {
    waitForStaging()
    guard let source = sources[.train] else { return }
    let files = rows.map { source.files[$0] }
    let group = DispatchGroup()
    staged = Array(rows)
    pending = group
    stagingError = nil
    let target = UncheckedSendable(staging)
    let job = UncheckedSendable({ [self] in
      do { try source.loader.decode(rows: files, into: target.value, threads: threads) } catch {
        stagingError = error
      }
    })
    queue.async(group: group) { job.value() }
  }

  private func waitForStaging() {
    pending?.wait()
    pending = nil
  }

  /// Decodes (or takes the prefetched) images of `rows` of `role` into the input buffer, and
  /// their targets into the target buffer.
  func load(rows: UnsafeBufferPointer<Int>, role: DataRole) throws {
    guard let source = sources[role] else { throw DLPError.data("no \(role) data was given") }
    let input = executor.outputs[inputNode]
    let width = source.loader.sampleWidth
    waitForStaging()
    if role == .train, let s = staged, s.elementsEqual(rows) {
      if let e = stagingError { throw e }
      input.update(from: staging, count: rows.count * width)
    } else {
      try source.loader.decode(rows: rows.map { source.files[$0] }, into: input, threads: threads)
    }
    staged = nil
    let tw = source.targets.rowWidth
    source.targets.scalars.withUnsafeBufferPointer { t in
      for (j, r) in rows.enumerated() {
        (executor.targets[0] + j * tw).update(from: t.baseAddress! + r * tw, count: tw)
      }
    }
  }

  public func trainStep(
    rows: UnsafeBufferPointer<Int>, epoch: Int, step: UInt64, stats: UnsafeMutablePointer<Double>
  )
    throws
  {
    try load(rows: rows, role: .train)
    try self.step.train(
      loaded: rows.count, globalBatch: rows.count, rowOffset: 0, trainStep: step, stats: stats)
  }

  public func evaluateStep(
    rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>
  ) throws {
    try load(rows: rows, role: role)
    step.evaluate(loaded: rows.count, stats: stats)
  }

  public func commit() throws -> TrainingState { try TrainingState(capturing: model) }

  public func restore(_ state: TrainingState) throws {
    try state.restore(into: model, shard: step.owned)
  }

  deinit {
    waitForStaging()
    staging.deallocate()
  }
}
