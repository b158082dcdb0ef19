import DLPProto

/// Coordinator -> worker: the worker is accepted; its rank and the job follow.
public struct WelcomeMessage: WireMessage {
  public static let kind = MessageKind.welcome
  public var jobID: UInt64
  public var rank: Int32
  public var worldSize: Int32

  public init(jobID: UInt64, rank: Int32, worldSize: Int32) {
    self.jobID = jobID
    self.rank = rank
    self.worldSize = worldSize
  }

  public var message: Message { .welcome(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__Welcome()
    dlp__welcome__init(&c)
    c.job_id = jobID
    c.rank = rank
    c.world_size = worldSize
    packMessage(&c, into: &out, size: dlp__welcome__get_packed_size, pack: dlp__welcome__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Welcome", unpack: dlp__welcome__unpack,
      free: dlp__welcome__free_unpacked
    ) { p in
      WelcomeMessage(jobID: p.pointee.job_id, rank: p.pointee.rank, worldSize: p.pointee.world_size)
    }
  }
}
