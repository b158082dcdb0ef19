import DLPProto

/// Constants of the DLP wire protocol (Proto/dlp.proto).
public enum DLPProtocol {
  /// Mirrors `PROTOCOL_VERSION` in Proto/dlp.proto; carried in every `Header`. A test checks
  /// that the two agree.
  public static let version: UInt32 = 7

  /// The value protoc-c generated, to check the mirror against.
  static let generatedVersion = UInt32(DLP__PROTOCOL__PROTOCOL_VERSION.rawValue)

  /// Rank used in headers by a sender that has no rank (the coordinator, a worker saying Hello).
  public static let noRank: Int32 = -1
}

/// What a message's body frame holds; mirrors the proto's `MessageKind`.
public enum MessageKind: Int32, Sendable, CaseIterable, CustomStringConvertible {
  case hello = 1
  case welcome = 2
  case reject = 3
  case jobSpec = 4
  case stepCommand = 5
  case gradientChunk = 6
  case weightChunk = 7
  case metricsReport = 8
  case heartbeat = 9
  case errorReport = 10
  case shutdown = 11
  case dataShipment = 12
  case reduceScatterChunk = 13
  case allGatherChunk = 14
  case reduceChunk = 15
  case broadcastChunk = 16
  case taskAssignment = 17
  case taskResult = 18
  case taskRequest = 19
  case sharedAttached = 20
  case sharedReduceReady = 21
  case sharedGatherReady = 22
  case regroup = 24
  case regroupReady = 25
  case reconfigure = 26
  case commitReport = 27

  public var description: String {
    switch self {
    case .hello: return "Hello"
    case .welcome: return "Welcome"
    case .reject: return "Reject"
    case .jobSpec: return "JobSpec"
    case .stepCommand: return "StepCommand"
    case .gradientChunk: return "GradientChunk"
    case .weightChunk: return "WeightChunk"
    case .metricsReport: return "MetricsReport"
    case .heartbeat: return "Heartbeat"
    case .errorReport: return "ErrorReport"
    case .shutdown: return "Shutdown"
    case .dataShipment: return "DataShipment"
    case .reduceScatterChunk: return "ReduceScatterChunk"
    case .allGatherChunk: return "AllGatherChunk"
    case .reduceChunk: return "ReduceChunk"
    case .broadcastChunk: return "BroadcastChunk"
    case .taskAssignment: return "TaskAssignment"
    case .taskResult: return "TaskResult"
    case .taskRequest: return "TaskRequest"
    case .sharedAttached: return "SharedAttached"
    case .sharedReduceReady: return "SharedReduceReady"
    case .sharedGatherReady: return "SharedGatherReady"
    case .regroup: return "Regroup"
    case .regroupReady: return "RegroupReady"
    case .reconfigure: return "Reconfigure"
    case .commitReport: return "CommitReport"
    }
  }

  /// The kinds whose body is empty: the collectives' data frames, described by the header alone.
  public var hasEmptyBody: Bool {
    (MessageKind.reduceScatterChunk.rawValue...MessageKind.broadcastChunk.rawValue).contains(
      rawValue)
      || (MessageKind.sharedAttached.rawValue...MessageKind.sharedGatherReady.rawValue).contains(
        rawValue)
  }
}

/// How gradients are all-reduced; mirrors the proto's `Collective`.
public enum CollectiveKind: Int32, Sendable, CaseIterable, CustomStringConvertible {
  /// Every rank sends to the root, which sums in rank order and broadcasts.
  case central = 1
  /// Reduce-scatter then all-gather around a ring.
  case ring = 2

  public var description: String { self == .central ? "central" : "ring" }

  /// Parses the CLI spelling (`central`, `ring`).
  public init?(name: String) {
    switch name.lowercased() {
    case "central": self = .central
    case "ring": self = .ring
    default: return nil
    }
  }
}

/// What a step command asks for; mirrors the proto's `Phase`.
public enum Phase: Int32, Sendable, CaseIterable {
  case train = 1
  case validate = 2
  case evaluate = 3
  case predict = 4
  /// Send the coordinator this worker's share of the model state (`CommitReportMessage`).
  case commit = 5
}
