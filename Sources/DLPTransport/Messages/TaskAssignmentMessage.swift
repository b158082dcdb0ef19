import DLPProto

/// Coordinator -> worker (K-fold sweeps): run this task next. Sent as soon as the worker is
/// idle, so a slow worker holds no queued task back.
public struct TaskAssignmentMessage: WireMessage {
  public static let kind = MessageKind.taskAssignment
  /// The coordinator's key for the task; the worker's `TaskResultMessage` echoes it.
  public var taskID: UInt64
  /// The task as JSON (a `FoldTask`: repeat, fold, seed, training and validation rows).
  public var taskJSON: String
  /// How to train it, as JSON (`CrossValidationOptions`).
  public var optionsJSON: String

  public init(taskID: UInt64, taskJSON: String, optionsJSON: String) {
    self.taskID = taskID
    self.taskJSON = taskJSON
    self.optionsJSON = optionsJSON
  }

  public var message: Message { .taskAssignment(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__TaskAssignment()
    dlp__task_assignment__init(&c)
    c.task_id = taskID
    c.task_json = strings.dup(taskJSON)
    c.options_json = strings.dup(optionsJSON)
    packMessage(
      &c, into: &out, size: dlp__task_assignment__get_packed_size,
      pack: dlp__task_assignment__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "TaskAssignment", unpack: dlp__task_assignment__unpack,
      free: dlp__task_assignment__free_unpacked
    ) { p in
      TaskAssignmentMessage(
        taskID: p.pointee.task_id, taskJSON: swiftString(p.pointee.task_json),
        optionsJSON: swiftString(p.pointee.options_json))
    }
  }
}
