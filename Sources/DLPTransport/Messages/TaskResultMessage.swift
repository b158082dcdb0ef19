import DLPProto

/// Worker -> coordinator (K-fold sweeps): the result of the task it was assigned.
public struct TaskResultMessage: WireMessage {
  public static let kind = MessageKind.taskResult
  /// The `TaskAssignmentMessage.taskID` this answers.
  public var taskID: UInt64
  /// The result as JSON (a `FoldResult`: per-epoch history, final validation metrics, seconds).
  public var resultJSON: String

  public init(taskID: UInt64, resultJSON: String) {
    self.taskID = taskID
    self.resultJSON = resultJSON
  }

  public var message: Message { .taskResult(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__TaskResult()
    dlp__task_result__init(&c)
    c.task_id = taskID
    c.result_json = strings.dup(resultJSON)
    packMessage(
      &c, into: &out, size: dlp__task_result__get_packed_size, pack: dlp__task_result__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "TaskResult", unpack: dlp__task_result__unpack,
      free: dlp__task_result__free_unpacked
    ) { p in
      TaskResultMessage(taskID: p.pointee.task_id, resultJSON: swiftString(p.pointee.result_json))
    }
  }
}
