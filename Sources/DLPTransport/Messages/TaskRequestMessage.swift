import DLPProto

/// Worker -> coordinator (K-fold sweeps): the worker's data is in place and it is ready for a
/// task; sent once when it has its data and again after every task it ran or gave up.
public struct TaskRequestMessage: WireMessage {
  public static let kind = MessageKind.taskRequest
  /// Content hash of the data the worker loaded or received; the coordinator compares it with
  /// its own.
  public var datasetHash: UInt64
  /// Group sweeps (`--group-size G > 1`): the endpoint of a collective listener bound for the
  /// next task's ring. A fresh one per task, so no chunk of an earlier ring can reach it.
  public var ringEndpoint: String
  /// Nonzero: the id of the group whose task this worker gave up (its ring failed: a member
  /// died or went silent), so the coordinator puts the task back on the queue.
  public var abandonedGroup: UInt64
  /// Unsecured group sweeps: a fresh stream listener for the next task's ring (`StreamRing`);
  /// empty when the worker has none.
  public var streamEndpoint: String

  public init(datasetHash: UInt64, ringEndpoint: String = "", abandonedGroup: UInt64 = 0, streamEndpoint: String = "") {
    self.datasetHash = datasetHash
    self.ringEndpoint = ringEndpoint
    self.abandonedGroup = abandonedGroup
    self.streamEndpoint = streamEndpoint
  }

  public var message: Message { .taskRequest(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__TaskRequest()
    dlp__task_request__init(&c)
    c.dataset_hash = datasetHash
    c.ring_endpoint = strings.dup(ringEndpoint)
    c.abandoned_group = abandonedGroup
    c.stream_endpoint = strings.dup(streamEndpoint)
    packMessage(
      &c, into: &out, size: dlp__task_request__get_packed_size, pack: dlp__task_request__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "TaskRequest", unpack: dlp__task_request__unpack,
      free: dlp__task_request__free_unpacked
    ) { p in
      TaskRequestMessage(
        datasetHash: p.pointee.dataset_hash, ringEndpoint: swiftString(p.pointee.ring_endpoint),
        abandonedGroup: p.pointee.abandoned_group, streamEndpoint: swiftString(p.pointee.stream_endpoint))
    }
  }
}
