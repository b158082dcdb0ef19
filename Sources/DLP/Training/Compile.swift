/// One model output with its loss, loss weight and metrics.
public struct OutputHead {
  public let name: String
  /// Index of the output's node in `model.nodes`.
  public let nodeIndex: Int
  public let loss: any Loss
  public let lossWeight: Float
  public let metrics: [any Metric]
  /// The output layer's activation is applied by the loss (softmax/sigmoid + cross-entropy).
  public let fused: Bool
  /// The loss receives logits: fused, or a loss with `from_logits` (then the output layer's
  /// own values are the logits, and metrics and predictions see them unchanged, as in Keras).
  public let logits: Bool
  /// Values per sample of the output and of its targets.
  public let width: Int
  public let targetWidth: Int
}

/// What `compile` fixed: the optimizer and, per output, loss and metrics.
public final class CompiledSettings {
  public let optimizer: Optimizer
  public let heads: [OutputHead]
  public let layout: StatsLayout

  init(optimizer: Optimizer, heads: [OutputHead]) {
    self.optimizer = optimizer
    self.heads = heads
    self.layout = StatsLayout(heads: heads)
  }
}

extension Model {
  /// Keras's compile. `losses` has one entry per output (or one for all); `metrics` apply to
  /// every output; `lossWeights` scale each output's loss in the total (Keras's sum).
  public func compile(
    optimizer: Optimizer, losses: [any Loss], metrics: [String] = [], lossWeights: [Float]? = nil
  ) throws {
    try compile(optimizer: optimizer, losses: losses, metricSpecs: [metrics.map(MetricSpec.name)], lossWeights: lossWeights)
  }

  /// Keras's compile with metrics per output (`metricSpecs` has one list for every output, or
  /// one list per output), names resolved against each output's loss as Keras resolves them.
  public func compile(
    optimizer: Optimizer, losses: [any Loss], metricSpecs: [[MetricSpec]], lossWeights: [Float]? = nil
  ) throws {
    try MaskPlan.validate(self)
    let metricLists = metricSpecs.count == 1 ? Array(repeating: metricSpecs[0], count: outputs.count) : metricSpecs
    guard metricLists.count == outputs.count else {
      throw DLPError.config("the model has \(outputs.count) outputs but metrics were given for \(metricSpecs.count)")
    }
    let perOutput = losses.count == 1 ? Array(repeating: losses[0], count: outputs.count) : losses
    guard perOutput.count == outputs.count else {
      throw DLPError.config("the model has \(outputs.count) outputs but \(losses.count) losses were given")
    }
    let weights = lossWeights ?? Array(repeating: 1, count: outputs.count)
    guard weights.count == outputs.count else {
      throw DLPError.config("the model has \(outputs.count) outputs but \(weights.count) loss weights were given")
    }
    var heads: [OutputHead] = []
    for (k, out) in outputs.enumerated() {
      let nodeIndex = nodes.firstIndex { $0 === out.node }!
      let width = out.shape.reduce(1, *)
      let loss = perOutput[k]
      // Fuse only when nothing else reads this output (others need the activated values).
      let consumers = nodes.filter { n in n.inputs.contains { $0.node === out.node } }.count
      let activation = (out.node.layer as? ActivatedLayer)?.activation
      let fused = consumers == 0 && activation != nil && activation == loss.fusableActivation
        && outputs.filter({ $0.node === out.node }).count == 1 && !loss.fromLogits
      heads.append(
        OutputHead(
          name: out.node.layer.name, nodeIndex: nodeIndex, loss: loss, lossWeight: weights[k],
          metrics: try metricLists[k].map { try $0.resolve(loss: loss, outputWidth: out.shape.last ?? 1) },
          fused: fused, logits: fused || loss.fromLogits, width: width, targetWidth: loss.targetWidth(outputWidth: width)))
    }
    compiled = CompiledSettings(optimizer: optimizer, heads: heads)
    if optimizer.iterations == 0 { optimizer.prepare(shard: 0..<parameters.count) }
  }

  /// Compile by Keras names: `compile(optimizer: "rmsprop", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])`.
  public func compile(
    optimizer: String, loss: String, metrics: [String] = [], learningRate: Float? = nil
  ) throws {
    try compile(optimizer: Optimizers.named(optimizer, learningRate: learningRate), losses: [Losses.named(loss)], metrics: metrics)
  }

  func requireCompiled() throws -> CompiledSettings {
    guard let c = compiled else { throw DLPError.config("model '\(name)' must be compiled before training or evaluation") }
    return c
  }
}

/// The layout of a batch's statistics as one flat vector of sums, so batches and workers add
/// them element-wise: [weighted loss sum, sample count, per-output loss sums..., metric states...].
public struct StatsLayout: Sendable {
  public let outputNames: [String]
  public let metricNames: [[String]]
  let metricOffsets: [[Int]]
  let metricSizes: [[Int]]
  public let size: Int

  init(heads: [OutputHead]) {
    outputNames = heads.map(\.name)
    metricNames = heads.map { $0.metrics.map(\.name) }
    var offset = 2 + heads.count
    var offsets: [[Int]] = []
    var sizes: [[Int]] = []
    for h in heads {
      offsets.append(h.metrics.map { m in defer { offset += m.stateSize }; return offset })
      sizes.append(h.metrics.map(\.stateSize))
    }
    metricOffsets = offsets
    metricSizes = sizes
    size = offset
  }

  /// Keras's logs from summed statistics: `loss`, and per output `NAME_loss` and metric names
  /// (prefixed by the output name when there are several outputs).
  public func logs(_ v: [Double], heads: [OutputHead], prefix: String = "") -> [String: Double] {
    let n = Swift.max(v[1], 1)
    var logs = [prefix + "loss": v[0] / n]
    let multi = heads.count > 1
    for (k, h) in heads.enumerated() {
      if multi { logs[prefix + h.name + "_loss"] = v[2 + k] / n }
      for (j, m) in h.metrics.enumerated() {
        let value = v.withUnsafeBufferPointer { b in
          m.result(UnsafeBufferPointer(rebasing: b[metricOffsets[k][j]..<(metricOffsets[k][j] + metricSizes[k][j])]))
        }
        logs[prefix + (multi ? h.name + "_" : "") + m.name] = value
      }
    }
    return logs
  }
}

extension Model {
  /// Compiles from a Keras compile_config (a `.keras` file's, a model JSON's, the one the
  /// coordinator sends its workers). `optimizer`, `losses` and `metrics` override the config's.
  public func compile(
    keras c: KerasCompileConfig?, optimizer: Optimizer? = nil, losses: [any Loss]? = nil,
    metrics: [[MetricSpec]]? = nil
  ) throws {
    let lossList = losses ?? c?.losses ?? []
    guard !lossList.isEmpty else { throw DLPError.config("model '\(name)' has no compile_config loss") }
    try compile(
      optimizer: optimizer ?? KerasObjects.parseOptimizer(c?.optimizer), losses: lossList,
      metricSpecs: metrics ?? c?.metrics ?? [[]], lossWeights: losses == nil ? c?.lossWeights : nil)
  }
}
