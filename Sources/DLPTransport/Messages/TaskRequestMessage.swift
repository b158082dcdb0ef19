import DLPProto

/// Worker -> coordinator (K-fold sweeps): the worker's data is in place and it is ready for
/// tasks. After that, each `TaskResultMessage` also says the worker is idle again.
public struct TaskRequestMessage: WireMessage {
  public static let kind = MessageKind.taskRequest
  /// Content hash of the data the worker loaded or received; the coordinator compares it with
  /// its own.
  public var datasetHash: UInt64

  public init(datasetHash: UInt64) { self.datasetHash = datasetHash }

  public var message: Message { .taskRequest(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__TaskRequest()
    dlp__task_request__init(&c)
    c.dataset_hash = datasetHash
    packMessage(
      &c, into: &out, size: dlp__task_request__get_packed_size, pack: dlp__task_request__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "TaskRequest", unpack: dlp__task_request__unpack,
      free: dlp__task_request__free_unpacked
    ) { p in
      TaskRequestMessage(datasetHash: p.pointee.dataset_hash)
    }
  }
}
