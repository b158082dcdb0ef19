import DLPProto

/// Coordinator -> worker: run one step on this worker's shard of the global batch.
public struct StepCommandMessage: WireMessage {
  public static let kind = MessageKind.stepCommand
  public var epoch: UInt32
  public var step: UInt64
  /// This worker's first row within the global batch.
  public var shardStart: UInt32
  /// Rows in this worker's shard (may be 0: the worker still joins the all-reduce).
  public var shardCount: UInt32
  /// Rows in the whole batch; gradients are divided by it.
  public var globalBatchSize: UInt32
  /// The dataset rows of this shard, in batch order.
  public var sampleIndices: [UInt32]
  public var phase: Phase
  /// Training steps before this one in this fit: with `shardStart`, what keys the dropout masks.
  public var trainStep: UInt64
  /// The collective generation this step runs on; a worker drops commands of older ones.
  public var generation: UInt64

  public init(
    epoch: UInt32, step: UInt64, shardStart: UInt32, shardCount: UInt32, globalBatchSize: UInt32,
    sampleIndices: [UInt32], phase: Phase = .train, trainStep: UInt64 = 0, generation: UInt64 = 0
  ) {
    self.generation = generation
    self.trainStep = trainStep
    self.epoch = epoch
    self.step = step
    self.shardStart = shardStart
    self.shardCount = shardCount
    self.globalBatchSize = globalBatchSize
    self.sampleIndices = sampleIndices
    self.phase = phase
  }

  public var message: Message { .stepCommand(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__StepCommand()
    dlp__step_command__init(&c)
    c.epoch = epoch
    c.step = step
    c.shard_start = shardStart
    c.shard_count = shardCount
    c.global_batch_size = globalBatchSize
    c.phase = Dlp__Phase(rawValue: UInt32(phase.rawValue))
    c.train_step = trainStep
    c.generation = generation
    sampleIndices.withUnsafeBufferPointer { indices in
      // protobuf-c only reads the array while packing; the cast drops a const it never needed.
      c.n_sample_indices = indices.count
      c.sample_indices = UnsafeMutablePointer(mutating: indices.baseAddress)
      packMessage(
        &c, into: &out, size: dlp__step_command__get_packed_size, pack: dlp__step_command__pack)
    }
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "StepCommand", unpack: dlp__step_command__unpack,
      free: dlp__step_command__free_unpacked
    ) { p in
      let c = p.pointee
      guard let phase = Phase(rawValue: Int32(bitPattern: c.phase.rawValue)) else {
        throw TransportError.malformed(
          peer: nil, "StepCommand names unknown phase \(c.phase.rawValue)")
      }
      return StepCommandMessage(
        epoch: c.epoch, step: c.step, shardStart: c.shard_start, shardCount: c.shard_count,
        globalBatchSize: c.global_batch_size,
        sampleIndices: swiftArray(c.sample_indices, c.n_sample_indices),
        phase: phase, trainStep: c.train_step, generation: c.generation)
    }
  }
}
