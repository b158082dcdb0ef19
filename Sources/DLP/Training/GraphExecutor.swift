/// Runs a model's graph forward and backward over preallocated buffers: one output and one
/// gradient buffer per node, sized once for `capacity` samples, so a training step allocates
/// nothing. The distributed worker drives the same executor on its shard of each batch.
public final class GraphExecutor {
  public let model: Model
  public let capacity: Int
  let outputs: [UnsafeMutablePointer<Float>]
  let grads: [UnsafeMutablePointer<Float>]
  let scratch: [[UnsafeMutablePointer<Float>]]
  /// Nodes whose gradient has several contributors get one buffer per contributor.
  let contributorGrads: [[UnsafeMutablePointer<Float>]]
  let predictions: [UnsafeMutablePointer<Float>]
  let targets: [UnsafeMutablePointer<Float>]
  let needsGrad: [Bool]
  let widths: [Int]
  private var owned: [UnsafeMutablePointer<Float>] = []
  private let heads: [OutputHead]

  /// - Parameters:
  ///   - inputGradients: also compute gradients with respect to the model inputs (and so
  ///     every node downstream of them).
  ///   - weightGradients: false to skip every weight gradient (looking inside a model:
  ///     gradients with respect to inputs or inner layers only).
  public init(model: Model, capacity: Int, inputGradients: Bool = false, weightGradients: Bool = true) {
    self.model = model
    self.weightGradients = weightGradients
    self.capacity = Swift.max(capacity, 1)
    let nodes = model.nodes
    let index = Dictionary(uniqueKeysWithValues: nodes.enumerated().map { (ObjectIdentifier($1), $0) })
    let heads = model.compiled?.heads ?? []
    let widths = nodes.map { n in (n.layer is InputLayer ? (n.layer as! InputLayer).shape : n.layer.outputShape).reduce(1, *) }
    self.heads = heads
    self.widths = widths

    var needs = [Bool](repeating: false, count: nodes.count)
    for (k, n) in nodes.enumerated() {
      needs[k] = n.layer is InputLayer
        ? inputGradients
        : (weightGradients && model.trains(n.layer) && n.layer.trainableWeightCount > 0) || n.inputs.contains { needs[index[ObjectIdentifier($0.node)]!] }
    }
    needsGrad = needs

    // Count gradient contributors of each node: consumers' input slots, then losses.
    var contributors = [Int](repeating: 0, count: nodes.count)
    var slots: [[Int]] = nodes.map { _ in [] }
    for (k, n) in nodes.enumerated() {
      for input in n.inputs {
        let src = index[ObjectIdentifier(input.node)]!
        slots[k].append(contributors[src])
        contributors[src] += 1
      }
    }
    var headSlots: [Int] = []
    for h in heads {
      headSlots.append(contributors[h.nodeIndex])
      contributors[h.nodeIndex] += 1
    }

    var owned: [UnsafeMutablePointer<Float>] = []
    func alloc(_ n: Int) -> UnsafeMutablePointer<Float> {
      let p = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(n, 1))
      p.initialize(repeating: 0, count: Swift.max(n, 1))
      owned.append(p)
      return p
    }
    let cap = Swift.max(capacity, 1)
    let outs = widths.map { alloc(cap * $0) }
    let grads = widths.enumerated().map { k, w in needs[k] || contributors[k] > 0 ? alloc(cap * w) : alloc(0) }
    let contributorGrads = nodes.indices.map { k in contributors[k] > 1 ? (0..<contributors[k]).map { _ in alloc(cap * widths[k]) } : [] }
    outputs = outs
    self.grads = grads
    self.contributorGrads = contributorGrads
    scratch = nodes.map { n in n.layer is InputLayer ? [] : n.layer.scratchWidths().map { alloc(cap * $0) } }
    // Unfused heads read predictions straight from the output node.
    let preds = heads.map { h in h.logits ? alloc(cap * h.width) : outs[h.nodeIndex] }
    predictions = preds
    // Metrics see the model's output: the probabilities of a fused head, the raw values of a
    // from_logits one (Keras's metrics get y_pred as the model computes it).
    metricInputs = heads.enumerated().map { k, h in h.logits && !h.fused ? UnsafePointer(outs[h.nodeIndex]) : UnsafePointer(preds[k]) }
    targets = heads.map { alloc(cap * $0.targetWidth) }

    // Everything a pass needs is fixed now: precompute the pointer lists so steps allocate nothing.
    let nodeIndex = index
    inputPointers = nodes.map { n in n.inputs.map { UnsafePointer(outs[nodeIndex[ObjectIdentifier($0.node)]!]) } }
    func contributor(_ node: Int, _ slot: Int) -> UnsafeMutablePointer<Float> {
      contributorGrads[node].isEmpty ? grads[node] : contributorGrads[node][slot]
    }
    inputGradPointers = nodes.enumerated().map { k, n in
      n.inputs.enumerated().map { slot, input in
        let src = nodeIndex[ObjectIdentifier(input.node)]!
        return needs[src] ? contributor(src, slots[k][slot]) : nil
      }
    }
    headGradPointers = heads.indices.map { contributor(heads[$0].nodeIndex, headSlots[$0]) }
    let layerIndex = Dictionary(uniqueKeysWithValues: model.layers.enumerated().map { (ObjectIdentifier($1), $0) })
    layerOfNode = nodes.map { layerIndex[ObjectIdentifier($0.layer)]! }
    applications = model.layers.map { l in nodes.filter { $0.layer === l }.count }
    applicationOfNode = nodes.indices.map { k in nodes[..<k].filter { $0.layer === nodes[k].layer }.count }
    remaining = applications
    written = [Bool](repeating: false, count: model.layers.count)
    fusedNode = nodes.indices.map { k in heads.contains { $0.fused && $0.nodeIndex == k } }
    // Keras's masks (sequence models): a buffer per node that produces one, shared by the
    // nodes it passes through (see `MaskPlan`).
    let plan = MaskPlan(model)
    let maskBuffers = plan.producedWidth.map { w in w.map { alloc(cap * $0) } }
    outputMaskPointers = maskBuffers
    inputMaskPointers = nodes.map { n in
      n.inputs.map { input in plan.source[nodeIndex[ObjectIdentifier(input.node)]!].map { UnsafePointer(maskBuffers[$0]!) } }
    }
    self.owned = owned
  }

  let inputMaskPointers: [[UnsafePointer<Float>?]]
  let outputMaskPointers: [UnsafeMutablePointer<Float>?]

  let inputPointers: [[UnsafePointer<Float>]]
  let inputGradPointers: [[UnsafeMutablePointer<Float>?]]
  let headGradPointers: [UnsafeMutablePointer<Float>]
  let layerOfNode: [Int]
  let applications: [Int]
  /// Node k is the applicationOfNode[k]-th application of its layer (in execution order).
  let applicationOfNode: [Int]
  let fusedNode: [Bool]
  let weightGradients: Bool
  /// The mode of the last forward, which the next backward differentiates.
  private var lastForwardTraining = false
  let metricInputs: [UnsafePointer<Float>]
  private var remaining: [Int]
  private var written: [Bool]

  deinit {
    for p in owned { p.deallocate() }
  }

  private lazy var inputNodeIndices: [Int] = model.inputs.map { i in model.nodes.firstIndex { $0 === i.node }! }

  /// How each input's buffer is filled: Float32 values, or Int32 ids (`InputLayer.dtype`).
  private lazy var inputDeliveries: [SampleDelivery] = model.inputs.map { ($0.node.layer as? InputLayer)?.delivery ?? .values }

  /// Copies rows `ids` of `data` into the input (and target) buffers: the samples leave their
  /// stored element type here (uint8 pixels divided by their divisor, integer ids copied bit
  /// for bit into an int32 input), and nowhere before.
  public func load(rows ids: UnsafeBufferPointer<Int>, from data: ArrayData, targets withTargets: Bool) {
    precondition(ids.count <= capacity)
    for (k, nodeIndex) in inputNodeIndices.enumerated() {
      copyRows(ids, from: data.inputs[k], to: outputs[nodeIndex], delivery: inputDeliveries[k])
    }
    if withTargets {
      for (k, t) in data.targets.enumerated() where k < targets.count { copyRows(ids, from: t, to: targets[k], delivery: .values) }
    }
  }

  private func copyRows(_ ids: UnsafeBufferPointer<Int>, from t: SampleArray, to dst: UnsafeMutablePointer<Float>, delivery: SampleDelivery) {
    let w = t.rowWidth
    // A batch of images is ~400 KB of scattered rows: gathered by the thread team.
    Parallel.forEach(ids.count, minimumPerChunk: Swift.max(1, 16_384 / Swift.max(w, 1))) { _, range in
      t.copyRows(ids, range, to: dst, delivery: delivery)
    }
  }

  /// Runs every node forward for `batch` loaded samples.
  /// `trainStep` (training steps before this one in this fit) and `rowOffset` (the first row's
  /// place in the global batch) key the training randomness (`StepRandomness`).
  /// `replicas` joins the other data-parallel replicas of this step for layers that need
  /// statistics of the global batch (BatchNormalization); nil in-process.
  public func forward(
    batch: Int, training: Bool, trainStep: UInt64 = 0, rowOffset: Int = 0,
    replicas: ReplicaReduction? = nil
  ) {
    lastForwardTraining = training
    var random = StepRandomness(trainStep: trainStep, rowOffset: rowOffset)
    for (k, n) in model.nodes.enumerated() where !(n.layer is InputLayer) {
      random.application = applicationOfNode[k]
      random.applications = applications[layerOfNode[k]]
      n.layer.forward(
        ForwardPass(
          inputs: inputPointers[k], output: outputs[k], scratch: scratch[k], batch: batch, training: training,
          deferActivation: fusedNode[k], randomness: random, replicas: replicas, inputMasks: inputMaskPointers[k],
          outputMask: outputMaskPointers[k]))
    }
  }

  /// Computes each head's loss (sum over the batch, times its loss weight) and metrics into
  /// `stats` (a `StatsLayout` vector), and, when `gradScale` is given, the loss gradients
  /// scaled by it (1 / global batch size).
  public func loss(batch: Int, stats: UnsafeMutablePointer<Double>, gradScale: Float?) {
    let layout = model.compiled!.layout
    for (k, h) in heads.enumerated() {
      let gradDest: UnsafeMutablePointer<Float>? = gradScale == nil ? nil : headGradPointers[k]
      let sum = h.loss.evaluate(
        output: outputs[h.nodeIndex], target: targets[k], rows: batch, width: h.width, fused: h.logits,
        prediction: predictions[k], grad: gradDest, gradScale: (gradScale ?? 0) * h.lossWeight)
      stats[0] += sum * Double(h.lossWeight)
      stats[2 + k] += sum
      for (j, m) in h.metrics.enumerated() {
        m.update(
          prediction: metricInputs[k], target: targets[k], rows: batch, width: h.width,
          state: stats + layout.metricOffsets[k][j])
      }
    }
    stats[1] += Double(batch)
  }

  /// Backward over the graph. `gradientReady` is called with each layer's flat-buffer range as
  /// soon as its weight gradients are final (last layer first), so buckets can leave early.
  /// `replicas` as in `forward`. `stopAt`: stop once node `stopAt`'s output gradient is
  /// complete, before its layer runs backward (`gradient(node:)` then holds d/d(its output)).
  public func backward(
    batch: Int, gradientReady: ((Range<Int>) -> Void)? = nil, replicas: ReplicaReduction? = nil,
    stopAt: Int? = nil
  ) {
    let nodes = model.nodes
    for l in remaining.indices {
      remaining[l] = applications[l]
      written[l] = false
    }
    for k in stride(from: nodes.count - 1, through: 0, by: -1) {
      let n = nodes[k]
      guard needsGrad[k] else { continue }
      let w = widths[k]
      if !contributorGrads[k].isEmpty {
        let g = grads[k]
        g.update(from: contributorGrads[k][0], count: batch * w)
        for c in contributorGrads[k].dropFirst() { for i in 0..<(batch * w) { g[i] += c[i] } }
      }
      if k == stopAt { return }
      // An input node has no layer to run, but its contributors still need summing.
      if n.layer is InputLayer { continue }
      let l = layerOfNode[k]
      let trains = weightGradients && model.trains(n.layer) && n.layer.trainableWeightCount > 0
      n.layer.backward(
        BackwardPass(
          inputs: inputPointers[k], output: outputs[k], outputGrad: grads[k], inputGrads: inputGradPointers[k],
          scratch: scratch[k], batch: batch, deferActivation: fusedNode[k],
          computeWeightGrads: trains, accumulateWeightGrads: written[l], replicas: replicas,
          training: lastForwardTraining, inputMasks: inputMaskPointers[k]))
      if trains {
        written[l] = true
        remaining[l] -= 1
        if remaining[l] == 0, let ready = gradientReady {
          let lo = n.layer.binding!.offsets[0]
          ready(lo..<(lo + n.layer.parameterCount))
        }
      }
    }
  }

  /// The probabilities / values of output `k` for the last forward (after `loss` for fused heads).
  public func prediction(_ k: Int) -> UnsafePointer<Float> { UnsafePointer(predictions[k]) }

  /// The output buffer of node `k`.
  public func output(node k: Int) -> UnsafePointer<Float> { UnsafePointer(outputs[k]) }

  /// The gradient buffer of node `k` (after backward).
  public func gradient(node k: Int) -> UnsafePointer<Float> { UnsafePointer(grads[k]) }
}
