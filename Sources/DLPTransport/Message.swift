/// Any DLP message body, as decoded from the wire.
public enum Message: Sendable, Equatable {
  case hello(HelloMessage)
  case welcome(WelcomeMessage)
  case reject(RejectMessage)
  case jobSpec(JobSpecMessage)
  case stepCommand(StepCommandMessage)
  case gradientChunk(GradientChunkMessage)
  case weightChunk(WeightChunkMessage)
  case metricsReport(MetricsReportMessage)
  case heartbeat(HeartbeatMessage)
  case errorReport(ErrorReportMessage)
  case shutdown(ShutdownMessage)
  case dataShipment(DataShipmentMessage)
  case taskAssignment(TaskAssignmentMessage)
  case taskResult(TaskResultMessage)
  case taskRequest(TaskRequestMessage)
  case regroup(RegroupMessage)
  case regroupReady(RegroupReadyMessage)
  case reconfigure(ReconfigureMessage)
  case commitReport(CommitReportMessage)
  /// A collective's data frame (reduce-scatter, all-gather, reduce, broadcast chunk): the body
  /// is empty and the header describes the payload.
  case collectiveChunk(MessageKind)

  /// The header kind that announces this body.
  public var kind: MessageKind {
    switch self {
    case .hello: return .hello
    case .welcome: return .welcome
    case .reject: return .reject
    case .jobSpec: return .jobSpec
    case .stepCommand: return .stepCommand
    case .gradientChunk: return .gradientChunk
    case .weightChunk: return .weightChunk
    case .metricsReport: return .metricsReport
    case .heartbeat: return .heartbeat
    case .errorReport: return .errorReport
    case .shutdown: return .shutdown
    case .dataShipment: return .dataShipment
    case .taskAssignment: return .taskAssignment
    case .taskResult: return .taskResult
    case .taskRequest: return .taskRequest
    case .regroup: return .regroup
    case .regroupReady: return .regroupReady
    case .reconfigure: return .reconfigure
    case .commitReport: return .commitReport
    case .collectiveChunk(let k): return k
    }
  }

  /// Writes the packed body into `out` (empty for collective chunks).
  public func pack(into out: inout [UInt8]) {
    switch self {
    case .hello(let m): m.pack(into: &out)
    case .welcome(let m): m.pack(into: &out)
    case .reject(let m): m.pack(into: &out)
    case .jobSpec(let m): m.pack(into: &out)
    case .stepCommand(let m): m.pack(into: &out)
    case .gradientChunk(let m): m.pack(into: &out)
    case .weightChunk(let m): m.pack(into: &out)
    case .metricsReport(let m): m.pack(into: &out)
    case .heartbeat(let m): m.pack(into: &out)
    case .errorReport(let m): m.pack(into: &out)
    case .shutdown(let m): m.pack(into: &out)
    case .dataShipment(let m): m.pack(into: &out)
    case .taskAssignment(let m): m.pack(into: &out)
    case .taskResult(let m): m.pack(into: &out)
    case .taskRequest(let m): m.pack(into: &out)
    case .regroup(let m): m.pack(into: &out)
    case .regroupReady(let m): m.pack(into: &out)
    case .reconfigure(let m): m.pack(into: &out)
    case .commitReport(let m): m.pack(into: &out)
    case .collectiveChunk: out.removeAll(keepingCapacity: true)
    }
  }

  /// Decodes the body announced as `kind`.
  public static func decode(kind: MessageKind, body: UnsafeRawBufferPointer, arena: ProtobufArena)
    throws -> Message
  {
    switch kind {
    case .hello: return .hello(try HelloMessage(packed: body, arena: arena))
    case .welcome: return .welcome(try WelcomeMessage(packed: body, arena: arena))
    case .reject: return .reject(try RejectMessage(packed: body, arena: arena))
    case .jobSpec: return .jobSpec(try JobSpecMessage(packed: body, arena: arena))
    case .stepCommand: return .stepCommand(try StepCommandMessage(packed: body, arena: arena))
    case .gradientChunk: return .gradientChunk(try GradientChunkMessage(packed: body, arena: arena))
    case .weightChunk: return .weightChunk(try WeightChunkMessage(packed: body, arena: arena))
    case .metricsReport: return .metricsReport(try MetricsReportMessage(packed: body, arena: arena))
    case .heartbeat: return .heartbeat(try HeartbeatMessage(packed: body, arena: arena))
    case .errorReport: return .errorReport(try ErrorReportMessage(packed: body, arena: arena))
    case .shutdown: return .shutdown(try ShutdownMessage(packed: body, arena: arena))
    case .dataShipment: return .dataShipment(try DataShipmentMessage(packed: body, arena: arena))
    case .taskAssignment:
      return .taskAssignment(try TaskAssignmentMessage(packed: body, arena: arena))
    case .taskResult: return .taskResult(try TaskResultMessage(packed: body, arena: arena))
    case .taskRequest: return .taskRequest(try TaskRequestMessage(packed: body, arena: arena))
    case .regroup: return .regroup(try RegroupMessage(packed: body, arena: arena))
    case .regroupReady: return .regroupReady(try RegroupReadyMessage(packed: body, arena: arena))
    case .reconfigure: return .reconfigure(try ReconfigureMessage(packed: body, arena: arena))
    case .commitReport: return .commitReport(try CommitReportMessage(packed: body, arena: arena))
    case .reduceScatterChunk, .allGatherChunk, .reduceChunk, .broadcastChunk, .sharedAttached,
      .sharedReduceReady, .sharedGatherReady:
      guard body.isEmpty else {
        throw TransportError.malformed(
          peer: nil, "\(kind) must have an empty body, got \(body.count) bytes")
      }
      return .collectiveChunk(kind)
    }
  }
}
