import DLP
import DLPTransport
import Foundation

/// A worker's model replica and its collective: runs one step command on the worker's shard.
///
/// Gradients are those of the SUM of per-sample losses over the shard divided by the GLOBAL
/// batch size, so the all-reduced sum is exactly the global-batch gradient.
final class Replica {
  let model: Model
  let data: [DataRole: ArrayData]
  let executor: GraphExecutor
  let central: CentralAllReduce?
  let ring: ShardedCollective?
  /// Under the ring collective: the part of the flat buffer this worker updates (ZeRO-1).
  let owned: Range<Int>
  private var stats: [Double]
  private var rows: [Int]

  init(
    model: Model, data: [DataRole: ArrayData], job: JobSpecMessage, description: JobDescription, context: ZMQContext,
    listener: CollectiveListener, coordinatorHost: String
  ) throws {
    self.model = model
    self.data = data
    let world = Int(job.worldSize)
    let rank = Int(job.rank)
    // The largest shard of a global batch.
    let capacity = (description.batchSize + world - 1) / world
    executor = GraphExecutor(model: model, capacity: Swift.max(capacity, 1))
    stats = [Double](repeating: 0, count: model.compiled!.layout.size)
    rows = []
    rows.reserveCapacity(capacity)
    let count = model.parameters.count
    if job.collective == .central {
      central = try CentralAllReduce(
        context: context, endpoint: Endpoint.tcp(coordinatorHost, description.centralPort),
        options: .init(rank: rank + 1, worldSize: world + 1, jobID: job.jobID, timeout: description.collectiveTimeout, rootContributes: false))
      ring = nil
      owned = 0..<count
    } else {
      guard job.peerEndpoints.count == world else {
        throw DLPError.config("the job lists \(job.peerEndpoints.count) ring endpoints for \(world) workers")
      }
      if description.sharedMemory {
        let shm = try SharedMemoryAllReduce(
          context: context, listener: world > 1 ? listener : nil, endpoints: job.peerEndpoints,
          options: .init(
            rank: rank, worldSize: world, jobID: job.jobID, capacity: count, timeout: description.collectiveTimeout,
            registeredBuffers: 2))
        // The peers read our gradients and weights where they are: no copy into the segment.
        model.parameters.adopt(values: shm.registeredBuffer(0).baseAddress!, grads: shm.registeredBuffer(1).baseAddress!)
        ring = shm
      } else {
        ring = try RingAllReduce(
          context: context, listener: world > 1 ? listener : nil, nextEndpoint: world > 1 ? job.peerEndpoints[(rank + 1) % world] : nil,
          options: .init(rank: rank, worldSize: world, jobID: job.jobID, timeout: description.collectiveTimeout))
      }
      central = nil
      owned = ShardPlan(count: count, parts: world).range(rank)
      model.compiled!.optimizer.prepare(shard: owned)
    }
  }

  func close() {
    // Back to private memory before the segment is unmapped.
    model.parameters.release()
    central?.close()
    ring?.close()
  }

  func loadWeights(_ payload: Payload) throws {
    let p = model.parameters
    guard payload.count == p.count else {
      throw DLPError.training("weights of \(payload.count) values for a model of \(p.count)")
    }
    try payload.copy(into: p.valueBuffer)
  }

  func role(_ phase: Phase) throws -> DataRole {
    switch phase {
    case .train: return .train
    case .validate: return .validation
    case .evaluate: return .test
    default: throw DLPError.training("unsupported step phase \(phase)")
    }
  }

  /// Runs a command; returns the metrics report for the coordinator.
  func run(_ c: StepCommandMessage) throws -> MetricsReportMessage {
    let role = try role(c.phase)
    guard let d = data[role] else { throw DLPError.data("this worker has no \(role) data") }
    let n = Int(c.shardCount)
    guard n == c.sampleIndices.count, n <= executor.capacity, c.globalBatchSize > 0 else {
      throw DLPError.training("malformed step command: \(c.sampleIndices.count) indices for a shard of \(n) (capacity \(executor.capacity))")
    }
    rows.removeAll(keepingCapacity: true)
    for i in c.sampleIndices {
      guard Int(i) < d.count else { throw DLPError.training("step command names sample \(i) of \(d.count)") }
      rows.append(Int(i))
    }
    for i in stats.indices { stats[i] = 0 }
    let training = c.phase == .train
    rows.withUnsafeBufferPointer { executor.load(rows: $0, from: d, targets: true) }
    executor.forward(batch: n, training: training, trainStep: c.trainStep, rowOffset: Int(c.shardStart))
    try stats.withUnsafeMutableBufferPointer { st in
      executor.loss(batch: n, stats: st.baseAddress!, gradScale: training ? 1 / Float(c.globalBatchSize) : nil)
      if training {
        executor.backward(batch: n)
        try exchange(step: c.step, globalBatch: Int(c.globalBatchSize), stats: st.baseAddress!)
      } else if model.hasRegularizers {
        st[0] += model.applyRegularization(addGradients: false) * Double(n)
      }
    }
    return MetricsReportMessage(
      epoch: c.epoch, step: c.step, phase: c.phase, lossSum: stats[0], sampleCount: UInt64(stats[1]),
      metricState: Array(stats[2...]))
  }

  /// The all-reduce and the optimizer step.
  private func exchange(step: UInt64, globalBatch: Int, stats: UnsafeMutablePointer<Double>) throws {
    let p = model.parameters
    if let central {
      // The coordinator sums, regularises, steps the optimizer and sends the weights back.
      try central.reduce(p.gradBuffer, step: step)
      try central.broadcast(p.valueBuffer, step: step)
    } else if let ring {
      try ring.reduceScatter(p.gradBuffer, step: step, tensorID: 0)
      if model.hasRegularizers {
        stats[0] += model.applyRegularization(addGradients: true, range: owned) * Double(globalBatch)
      }
      model.compiled!.optimizer.apply(params: p.values, grads: p.grads, ranges: p.trainableRanges, total: p.count)
      try ring.allGather(p.valueBuffer, step: step, tensorID: 0)
    }
  }
}
