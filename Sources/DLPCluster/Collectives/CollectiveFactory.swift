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
  static func member(
    _ r: ReconfigureMessage, choice: CollectiveChoice, jobID: UInt64, context: ZMQContext,
    listener: CollectiveListener?, coordinator: String, model: Model, timeout: Double,
    cancellation: Cancellation
  ) throws -> ClusterCollective {
    let id = collectiveID(job: jobID, generation: r.generation)
    let rank = Int(r.rank)
    let world = Int(r.worldSize)
    switch choice {
    case .central:
      let central = try CentralAllReduce(
        context: context,
        endpoint: SiblingEndpoints.centralConnect(control: coordinator, port: Int(r.centralPort), generation: r.generation),
        options: .init(
          rank: rank + 1, worldSize: world + 1, jobID: id, timeout: timeout, rootContributes: false,
          cancellation: cancellation))
      return CentralStepCollective(central)
    case .ring(let sharedMemory):
      if sharedMemory && world > 1 {
        let shm = try SharedMemoryAllReduce(
          context: context, listener: listener, endpoints: r.peerEndpoints,
          options: .init(
            rank: rank, worldSize: world, jobID: id, capacity: model.parameters.count,
            timeout: timeout, cancellation: cancellation, registeredBuffers: 2))
        model.parameters.adopt(
          values: shm.registeredBuffer(0).baseAddress!, grads: shm.registeredBuffer(1).baseAddress!)
        return RingStepCollective(shm, transportName: "ring/shm", adopted: model.parameters)
      }
      let ring = try RingAllReduce(
        context: context, listener: world > 1 ? listener : nil,
        nextEndpoint: world > 1 ? r.peerEndpoints[(rank + 1) % world] : nil,
        options: .init(rank: rank, worldSize: world, jobID: id, timeout: timeout, cancellation: cancellation))
      return RingStepCollective(ring, transportName: "ring/tcp")
    }
  }

  /// The coordinator's end of the central collective for a generation of `workers` workers:
  /// the root binds beside the control endpoint (over tcp its port goes to the workers in
  /// `Reconfigure`).
  static func root(
    workers: Int, jobID: UInt64, generation: UInt64, context: ZMQContext, control: String,
    timeout: Double, cancellation: Cancellation
  ) throws -> (collective: CentralStepCollective, port: Int) {
    let central = try CentralAllReduce(
      context: context, endpoint: SiblingEndpoints.centralBind(control: control, generation: generation),
      options: .init(
        rank: 0, worldSize: workers + 1, jobID: collectiveID(job: jobID, generation: generation),
        timeout: timeout, rootContributes: false, cancellation: cancellation))
    return (CentralStepCollective(central), Endpoint.port(of: central.endpoint ?? "") ?? 0)
  }

  /// A K-fold group's ring (`dlp kfold --group-size G`), over tcp, stamped with the group id.
  static func group(
    rank: Int, size: Int, groupID: UInt64, endpoints: [String], listener: CollectiveListener,
    context: ZMQContext, timeout: Double
  ) throws -> ClusterCollective {
    let ring = try RingAllReduce(
      context: context, listener: listener, nextEndpoint: endpoints[(rank + 1) % size],
      options: .init(rank: rank, worldSize: size, jobID: groupID, timeout: timeout))
    return RingStepCollective(ring, transportName: "ring/tcp")
  }
}
