import DLP
import DLPTransport
import Foundation

/// The one place that builds a collective from a job's settings: a training member's, the
/// central root's, and a K-fold group's.
enum CollectiveFactory {
  /// The collective id a generation's chunks carry: a chunk of an older generation (or of
  /// another job) is a stranger's.
  static func collectiveID(job: UInt64, generation: UInt64) -> UInt64 {
    job ^ (generation &* 0x9E37_79B9_7F4A_7C15)
  }

  /// A training member's collective for the generation `r` describes. A ring member receives on
  /// `listener` (the one it announced in its `RegroupReady`); under shared memory the model's
  /// weights and gradients move into its segment, where the peers read them.
  ///
  /// An unsecured job's ring over tcp runs on plain streams (`StreamRing`) when the coordinator
  /// sent every member's stream endpoint; `stream` is the listener this member announced.
  ///
  /// A secured job's member admits the peers that connect to its listener (its ring
  /// predecessor; every peer for shared memory's set-up) and connects to theirs, or to the
  /// coordinator's root, as their client.
  static func member(
    _ r: ReconfigureMessage, choice: CollectiveChoice, jobID: UInt64, context: ZMQContext,
    listener: CollectiveListener?, stream: StreamListener?, coordinator: String, model: Model,
    timeout: Double,
    cancellation: Cancellation, security: SocketSecurity
  ) throws -> ClusterCollective {
    let id = collectiveID(job: jobID, generation: r.generation)
    let rank = Int(r.rank)
    let world = Int(r.worldSize)
    let keys = try r.peerKeys.map { try CurveKey(z85: $0, what: "a peer's CURVE key") }
    guard !security.isSecure || choice == .central || keys.count == world else {
      throw DLPError.training(
        "the job is secured but its coordinator sent \(keys.count) peer keys for \(world) workers")
    }
    switch choice {
    case .central:
      var o = CentralAllReduce.Options(
        rank: rank + 1, worldSize: world + 1, jobID: id, timeout: timeout, rootContributes: false,
        cancellation: cancellation)
      o.curve = try security.clientRole()
      let central = try CentralAllReduce(
        context: context,
        endpoint: SiblingEndpoints.centralConnect(
          control: coordinator, port: Int(r.centralPort), generation: r.generation),
        options: o)
      return CentralStepCollective(central)
    case .ring(let sharedMemory):
      if sharedMemory && world > 1 {
        var o = SharedMemoryAllReduce.Options(
          rank: rank, worldSize: world, jobID: id, capacity: model.parameters.count,
          timeout: timeout, cancellation: cancellation, registeredBuffers: 2)
        // The peers' keys were admitted at the Regroup, before any could connect.
        if let pair = security.keyPair { o.curve = (pair, keys) }
        let shm = try SharedMemoryAllReduce(
          context: context, listener: listener, endpoints: r.peerEndpoints, options: o)
        model.parameters.adopt(
          values: shm.registeredBuffer(0).baseAddress!, grads: shm.registeredBuffer(1).baseAddress!)
        return RingStepCollective(shm, transportName: "ring/shm", adopted: model.parameters)
      }
      if world > 1 && !r.peerStreamEndpoints.isEmpty {
        return try streamRing(
          rank: rank, size: world, id: id, endpoints: r.peerStreamEndpoints, listener: stream,
          timeout: timeout,
          cancellation: cancellation, security: security)
      }
      var o = RingAllReduce.Options(
        rank: rank, worldSize: world, jobID: id, timeout: timeout, cancellation: cancellation)
      if security.isSecure && world > 1 {
        o.curve = try security.clientRole(serverKey: keys[(rank + 1) % world])
      }
      let ring = try RingAllReduce(
        context: context, listener: world > 1 ? listener : nil,
        nextEndpoint: world > 1 ? r.peerEndpoints[(rank + 1) % world] : nil, options: o)
      return RingStepCollective(ring, transportName: "ring/tcp")
    }
  }

  /// The coordinator's end of the central collective for a generation of `workers` workers:
  /// the root binds beside the control endpoint (over tcp its port goes to the workers in
  /// `Reconfigure`).
  static func root(
    workers: Int, jobID: UInt64, generation: UInt64, context: ZMQContext, control: String,
    timeout: Double, cancellation: Cancellation, security: SocketSecurity
  ) throws -> (collective: CentralStepCollective, port: Int) {
    var o = CentralAllReduce.Options(
      rank: 0, worldSize: workers + 1, jobID: collectiveID(job: jobID, generation: generation),
      timeout: timeout, rootContributes: false, cancellation: cancellation)
    o.curve = security.serverRole
    let central = try CentralAllReduce(
      context: context,
      endpoint: SiblingEndpoints.centralBind(control: control, generation: generation), options: o)
    return (CentralStepCollective(central), Endpoint.port(of: central.endpoint ?? "") ?? 0)
  }

  /// The stream endpoints a ring's members are given: every member's, when each announced one
  /// (`StreamListener`), the job is not secured and nobody asked for ZeroMQ (`DLP_TCP_WIRE=zmq`,
  /// read by the coordinator, to compare the two); else none, and the ring runs over ZeroMQ.
  static func streamEndpoints(_ announced: [String], secured: Bool) -> [String] {
    guard announced.count > 1, !secured,
      ProcessInfo.processInfo.environment["DLP_TCP_WIRE"] != "zmq",
      announced.allSatisfy({ $0.hasPrefix("tcp://") && $0.utf8.count <= 1024 })
    else { return [] }
    return announced
  }

  /// A ring over plain tcp streams, which only an unsecured member that announced `listener`
  /// joins; the listener closes once the predecessor is in.
  private static func streamRing(
    rank: Int, size: Int, id: UInt64, endpoints: [String], listener: StreamListener?,
    timeout: Double,
    cancellation: Cancellation?, security: SocketSecurity
  ) throws -> ClusterCollective {
    guard let listener, !security.isSecure else {
      throw DLPError.training(
        "the coordinator asked for the ring over plain tcp streams, but this worker \(security.isSecure ? "is secured (its ring runs under CURVE)" : "announced no stream listener")"
      )
    }
    let ring = try StreamRing(
      listener: listener, nextEndpoint: endpoints[(rank + 1) % size],
      options: .init(
        rank: rank, worldSize: size, collectiveID: id, timeout: timeout, cancellation: cancellation)
    )
    listener.close()
    return RingStepCollective(ring, transportName: "ring/tcp")
  }

  /// A K-fold group's ring (`dlp kfold --group-size G`), over tcp, stamped with the group id:
  /// on plain streams when the coordinator sent `streamEndpoints`, else over ZeroMQ.
  static func group(
    rank: Int, size: Int, groupID: UInt64, endpoints: [String], keys: [String],
    listener: CollectiveListener,
    streamEndpoints: [String], stream: StreamListener?, context: ZMQContext, timeout: Double,
    security: SocketSecurity
  ) throws -> ClusterCollective {
    if size > 1 && !streamEndpoints.isEmpty {
      return try streamRing(
        rank: rank, size: size, id: groupID, endpoints: streamEndpoints, listener: stream,
        timeout: timeout,
        cancellation: nil, security: security)
    }
    var o = RingAllReduce.Options(rank: rank, worldSize: size, jobID: groupID, timeout: timeout)
    if security.isSecure {
      guard keys.count == size else {
        throw DLPError.training(
          "the sweep is secured but its task names \(keys.count) keys for a group of \(size)")
      }
      // Every worker of the sweep was admitted when the sweep started (`workerKeys`).
      let peers = try keys.map { try CurveKey(z85: $0, what: "a group member's CURVE key") }
      o.curve = try security.clientRole(serverKey: peers[(rank + 1) % size])
    }
    let ring = try RingAllReduce(
      context: context, listener: listener, nextEndpoint: endpoints[(rank + 1) % size], options: o)
    return RingStepCollective(ring, transportName: "ring/tcp")
  }
}
