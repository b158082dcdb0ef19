import DLPProto

/// Worker -> coordinator: the loss and metric accumulators of one step over the worker's shard,
/// summed (not averaged) so the coordinator can add reports from shards of any size.
public struct MetricsReportMessage: WireMessage {
  public static let kind = MessageKind.metricsReport
  public var epoch: UInt32
  public var step: UInt64
  public var phase: Phase
  /// Sum of per-sample losses over the shard.
  public var lossSum: Double
  public var sampleCount: UInt64
  /// Each metric's accumulator values, in metric order (e.g. correct count for accuracy).
  public var metricState: [Double]
  /// The generation of the command this report answers.
  public var generation: UInt64

  public init(
    epoch: UInt32 = 0, step: UInt64, phase: Phase = .train, lossSum: Double, sampleCount: UInt64,
    metricState: [Double] = [], generation: UInt64 = 0
  ) {
    self.generation = generation
    self.epoch = epoch
    self.step = step
    self.phase = phase
    self.lossSum = lossSum
    self.sampleCount = sampleCount
    self.metricState = metricState
  }

  public var message: Message { .metricsReport(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__MetricsReport()
    dlp__metrics_report__init(&c)
    c.epoch = epoch
    c.step = step
    c.phase = Dlp__Phase(rawValue: UInt32(phase.rawValue))
    c.loss_sum = lossSum
    c.sample_count = sampleCount
    c.generation = generation
    metricState.withUnsafeBufferPointer { state in
      c.n_metric_state = state.count
      c.metric_state = UnsafeMutablePointer(mutating: state.baseAddress)
      packMessage(
        &c, into: &out, size: dlp__metrics_report__get_packed_size, pack: dlp__metrics_report__pack)
    }
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "MetricsReport", unpack: dlp__metrics_report__unpack,
      free: dlp__metrics_report__free_unpacked
    ) { p in
      let c = p.pointee
      guard let phase = Phase(rawValue: Int32(bitPattern: c.phase.rawValue)) else {
        throw TransportError.malformed(
          peer: nil, "MetricsReport names unknown phase \(c.phase.rawValue)")
      }
      return MetricsReportMessage(
        epoch: c.epoch, step: c.step, phase: phase, lossSum: c.loss_sum,
        sampleCount: c.sample_count,
        metricState: swiftArray(c.metric_state, c.n_metric_state), generation: c.generation)
    }
  }
}
