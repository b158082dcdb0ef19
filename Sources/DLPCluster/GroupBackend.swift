import DLP
import DLPTransport
import Foundation

/// Runs one fold task's steps data-parallel on a group of workers (`dlp kfold --group-size G`):
/// every member runs the same `Trainer.fit` loop, so every member sees the same global batches,
/// and this backend takes the member's `ShardPlan` part of each.
///
/// Training: forward, loss and backward on the part with gradScale 1/globalBatch, so the ring's
/// reduce-scatter sums the global-batch gradient; then, as `Replica` does (ZeRO-1), the
/// regularisation and optimizer step on the shard of the flat buffer this member owns, and an
/// all-gather of the weights. The ring's sums are bitwise identical on every member, so the
/// members' models stay identical and the leader's result is the group's.
///
/// Statistics (loss sum, sample count, metric states) are Doubles: squeezing them through the
/// float ring would round them. Each member's vector travels bit for bit instead (an all-gather
/// of its bytes) and every member adds the G vectors in rank order: the same sums everywhere,
/// so `fit` stops (TerminateOnNaN) at the same batch on every member.
final class GroupBackend: TrainingBackend {
  let model: Model
  let data: [DataRole: ArrayData]
  let ring: RingAllReduce
  let executor: GraphExecutor
  /// The part of the flat parameter buffer this member regularises and updates.
  let owned: Range<Int>
  private var local: [Double]
  /// G slots of `2 * local.count` floats: each member's statistics as raw bytes.
  private var gathered: [Float]
  private var total: [Double]
  private var step: UInt64 = 0

  init(
    model: Model, data: [DataRole: ArrayData], batchSize: Int, ring: RingAllReduce
  ) throws {
    guard let c = model.compiled else {
      throw DLPError.config("model '\(model.name)' must be compiled before training")
    }
    for (role, d) in data {
      try d.validate(for: model, needTargets: role != .test || !d.targets.isEmpty)
    }
    self.model = model
    self.data = data
    self.ring = ring
    let g = ring.worldSize
    executor = GraphExecutor(model: model, capacity: max((batchSize + g - 1) / g, 1))
    owned = ring.ownedRange(count: model.parameters.count)
    c.optimizer.prepare(shard: owned)
    local = [Double](repeating: 0, count: c.layout.size)
    gathered = [Float](repeating: 0, count: g * 2 * c.layout.size)
    total = local
  }

  /// This member's part of a global batch.
  private func part(_ rows: UnsafeBufferPointer<Int>) -> UnsafeBufferPointer<Int> {
    UnsafeBufferPointer(rebasing: rows[partRange(rows.count)])
  }

  private func partRange(_ count: Int) -> Range<Int> {
    ShardPlan(count: count, parts: ring.worldSize).range(ring.rank)
  }

  func trainStep(
    rows: UnsafeBufferPointer<Int>, epoch: Int, step trainStep: UInt64,
    stats: UnsafeMutablePointer<Double>
  )
    throws
  {
    let mine = part(rows)
    let n = mine.count
    step += 1
    // An empty part still takes part in the collectives (the last, short batch).
    for i in local.indices { local[i] = 0 }
    executor.load(rows: mine, from: data[.train]!, targets: true)
    executor.forward(
      batch: n, training: true, trainStep: trainStep, rowOffset: partRange(rows.count).lowerBound)
    local.withUnsafeMutableBufferPointer { st in
      executor.loss(batch: n, stats: st.baseAddress!, gradScale: 1 / Float(rows.count))
    }
    executor.backward(batch: n)
    let p = model.parameters
    try ring.reduceScatter(p.gradBuffer, step: step)
    if model.hasRegularizers {
      local[0] +=
        model.applyRegularization(addGradients: true, range: owned) * Double(rows.count)
    }
    model.compiled!.optimizer.apply(
      params: p.values, grads: p.grads, ranges: p.trainableRanges, total: p.count)
    try ring.allGather(p.valueBuffer, step: step)
    try sumStats(into: stats)
  }

  func evaluateStep(
    rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>
  ) throws {
    guard let d = data[role] else { throw DLPError.data("no \(role) data was given") }
    let mine = part(rows)
    step += 1
    for i in local.indices { local[i] = 0 }
    executor.load(rows: mine, from: d, targets: true)
    executor.forward(batch: mine.count, training: false)
    local.withUnsafeMutableBufferPointer { st in
      executor.loss(batch: mine.count, stats: st.baseAddress!, gradScale: nil)
    }
    // The penalty of the (identical) weights, once per sample as in-process.
    if model.hasRegularizers {
      local[0] += model.applyRegularization(addGradients: false) * Double(mine.count)
    }
    try sumStats(into: stats)
  }

  /// Adds the group's statistics, summed in rank order, into `stats`.
  private func sumStats(into stats: UnsafeMutablePointer<Double>) throws {
    let width = local.count
    let g = ring.worldSize
    gathered.withUnsafeMutableBytes { all in
      local.withUnsafeBytes { mine in
        all.baseAddress!.advanced(by: ring.rank * mine.count).copyMemory(
          from: mine.baseAddress!, byteCount: mine.count)
      }
    }
    // Rank r's slot is exactly ShardPlan(count: g * 2 * width, parts: g).range(r).
    try gathered.withUnsafeMutableBufferPointer { try ring.allGather($0, step: step, tensorID: 1) }
    for i in total.indices { total[i] = 0 }
    gathered.withUnsafeBytes { all in
      let v = all.bindMemory(to: Double.self)
      for r in 0..<g {
        for i in 0..<width { total[i] += v[r * width + i] }
      }
      for i in 0..<width { stats[i] += total[i] }
    }
  }
}
