import DLPProto

/// Either direction: "still alive", so a silent peer can be told from a slow step.
public struct HeartbeatMessage: WireMessage {
  public static let kind = MessageKind.heartbeat
  /// Increases by one per heartbeat from the same sender.
  public var sequence: UInt64
  /// The sender's wall clock, for rough latency figures.
  public var sentUnixNanos: UInt64
  /// From the coordinator: the current collective generation (a worker in an older one
  /// abandons it).
  public var generation: UInt64

  public init(sequence: UInt64, sentUnixNanos: UInt64 = 0, generation: UInt64 = 0) {
    self.generation = generation
    self.sequence = sequence
    self.sentUnixNanos = sentUnixNanos
  }

  public var message: Message { .heartbeat(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__Heartbeat()
    dlp__heartbeat__init(&c)
    c.sequence = sequence
    c.sent_unix_nanos = sentUnixNanos
    c.generation = generation
    packMessage(&c, into: &out, size: dlp__heartbeat__get_packed_size, pack: dlp__heartbeat__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Heartbeat", unpack: dlp__heartbeat__unpack,
      free: dlp__heartbeat__free_unpacked
    ) { p in
      HeartbeatMessage(
        sequence: p.pointee.sequence, sentUnixNanos: p.pointee.sent_unix_nanos,
        generation: p.pointee.generation)
    }
  }
}
