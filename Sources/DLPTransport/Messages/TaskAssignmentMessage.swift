import DLPProto

/// Coordinator -> worker (K-fold sweeps): run this task next. Sent as soon as a group of idle
/// workers can be formed (`--group-size G`, 1 by default), to every member, so a slow worker
/// holds no queued task back.
public struct TaskAssignmentMessage: WireMessage {
  public static let kind = MessageKind.taskAssignment
  /// The coordinator's key for the task; the leader's `TaskResultMessage` echoes it.
  public var taskID: UInt64
  /// The task as JSON (a `FoldTask`: repeat, fold, seed, training and validation rows).
  public var taskJSON: String
  /// How to train it, as JSON (`CrossValidationOptions`).
  public var optionsJSON: String
  /// Unique per assignment: a worker that gives the task up names it, and the group's ring
  /// stamps it on its chunks.
  public var groupID: UInt64
  /// This worker's rank in the group; rank 0, the leader, sends the result.
  public var groupRank: Int32
  /// The ring listener of every member, by group rank; empty for a group of one.
  public var peerEndpoints: [String]
  /// Each member's CURVE public key (Z85) by group rank, when the sweep is secured.
  public var peerKeys: [String]
  /// Each member's stream listener by group rank when the group's ring runs on plain tcp
  /// streams (`StreamRing`); empty: over ZeroMQ at `peerEndpoints`.
  public var peerStreamEndpoints: [String]

  public init(
    taskID: UInt64, taskJSON: String, optionsJSON: String, groupID: UInt64 = 0,
    groupRank: Int32 = 0, peerEndpoints: [String] = [], peerKeys: [String] = [],
    peerStreamEndpoints: [String] = []
  ) {
    self.peerKeys = peerKeys
    self.peerStreamEndpoints = peerStreamEndpoints
    self.taskID = taskID
    self.taskJSON = taskJSON
    self.optionsJSON = optionsJSON
    self.groupID = groupID
    self.groupRank = groupRank
    self.peerEndpoints = peerEndpoints
  }

  /// Workers in the group (1 without peers).
  public var groupSize: Int { max(1, peerEndpoints.count) }

  public var message: Message { .taskAssignment(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__TaskAssignment()
    dlp__task_assignment__init(&c)
    c.task_id = taskID
    c.task_json = strings.dup(taskJSON)
    c.options_json = strings.dup(optionsJSON)
    c.group_id = groupID
    c.group_rank = UInt32(bitPattern: groupRank)
    c.n_peer_endpoints = peerEndpoints.count
    c.peer_endpoints = strings.array(peerEndpoints)
    c.n_peer_keys = peerKeys.count
    c.peer_keys = strings.array(peerKeys)
    c.n_peer_stream_endpoints = peerStreamEndpoints.count
    c.peer_stream_endpoints = strings.array(peerStreamEndpoints)
    packMessage(
      &c, into: &out, size: dlp__task_assignment__get_packed_size,
      pack: dlp__task_assignment__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "TaskAssignment", unpack: dlp__task_assignment__unpack,
      free: dlp__task_assignment__free_unpacked
    ) { p in
      let c = p.pointee
      return TaskAssignmentMessage(
        taskID: c.task_id, taskJSON: swiftString(c.task_json),
        optionsJSON: swiftString(c.options_json), groupID: c.group_id,
        groupRank: Int32(bitPattern: c.group_rank),
        peerEndpoints: swiftArray(c.peer_endpoints, c.n_peer_endpoints).map(swiftString),
        peerKeys: swiftArray(c.peer_keys, c.n_peer_keys).map(swiftString),
        peerStreamEndpoints: swiftArray(c.peer_stream_endpoints, c.n_peer_stream_endpoints).map(swiftString))
    }
  }
}
