import DLP
import DLPTransport

/// How a ring moves its floats: `auto` (shared memory when every worker is on one host, else
/// tcp), `tcp`, or `shm` (refused unless every worker is on one host). Parsed once from the
/// command line; nothing else compares transport names.
public enum RingTransport: String, Sendable, Codable, CaseIterable {
  case auto, tcp, shm
}

/// The collective a job runs once the coordinator has seen where its workers are.
enum CollectiveChoice: Equatable {
  case central
  case ring(sharedMemory: Bool)

  /// Decides from the requested algorithm and transport and the workers' host identities
  /// (`HelloMessage.hostIdentity` / `RegroupReadyMessage.hostIdentity`), naming the workers
  /// that keep `shm` from being honoured.
  static func decide(
    algorithm: CollectiveKind, transport: RingTransport, hosts: [(name: String, identity: String)]
  ) throws -> CollectiveChoice {
    guard algorithm == .ring else { return .central }
    guard transport != .tcp, hosts.count > 1 else { return .ring(sharedMemory: false) }
    let first = hosts[0].identity
    let apart = hosts.filter { $0.identity.isEmpty || $0.identity != first }
    if transport == .shm, !apart.isEmpty {
      throw DLPError.config(
        "--transport shm needs every worker on one host (same kernel, /dev/shm, network namespace and user); \(apart.map(\.name).joined(separator: ", ")) \(apart.count == 1 ? "is" : "are") not on \(hosts[0].name)'s; use --transport auto or tcp"
      )
    }
    return .ring(sharedMemory: apart.isEmpty)
  }

  /// The report's `allreduce`.
  var name: String {
    switch self {
    case .central: return "central/tcp"
    case .ring(let shm): return shm ? "ring/shm" : "ring/tcp"
    }
  }
}
