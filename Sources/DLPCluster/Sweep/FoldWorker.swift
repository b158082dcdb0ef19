import DLP
import DLPTransport
import Foundation
import Logging

/// A worker's part in a K-fold sweep, after the JobSpec said so (`FoldJobDescription`): load
/// (or receive) the data, say ready, then run each assigned task with `CrossValidation.run` on a
/// fresh model built from the job's model JSON with the task's seed (alone, or data-parallel
/// with its group over a ring: `GroupBackend`), send the result back (the group's leader) and
/// ask for the next, until the coordinator says the sweep is over.
final class FoldWorker {
  let client: ControlClient
  let job: JobSpecMessage
  let sweep: FoldJobDescription
  private let logger = Logger(label: "dlp.worker.kfold")

  init(client: ControlClient, job: JobSpecMessage, sweep: FoldJobDescription) {
    self.client = client
    self.job = job
    self.sweep = sweep
  }

  private var name: String { client.name }

  func run() throws {
    try client.startHeartbeats(
      port: sweep.data.heartbeatPort,
      settings: HeartbeatSettings(timeout: client.options.heartbeatTimeout ?? sweep.data.heartbeatTimeout))

    if client.security.isSecure {
      for (i, z85) in sweep.workerKeys.enumerated() {
        client.security.authorize(try CurveKey(z85: z85, what: "a worker's CURVE key"), name: "sweep worker \(i)")
      }
    }
    let blueprint = ModelBlueprint(
      document: try JSONValue.parse(job.modelJSON, source: "the sweep's model"))
    let data = try loadData(template: blueprint.make(seed: sweep.data.seed))

    // Ready: the coordinator now sends tasks, one at a time, and we ask again after each.
    // In groups (G > 1) every request carries a fresh ring listener: a task's ring closes its
    // listener, and no chunk of an earlier ring can reach the next one.
    let grouped = sweep.kfold.groupSize > 1
    var listener = grouped ? try client.makeListener() : nil
    var stream = grouped ? try client.makeStreamListener() : nil
    try requestTask(data, listener: listener, stream: stream, abandoned: 0)
    var tasks = 0
    while true {
      let env = try client.receive()
      switch env.message {
      case .taskAssignment(let a):
        try a.validate()
        tasks += 1
        FaultInjection.task(tasks, worker: client.options.workerID)
        let abandoned = try runTask(
          a, data: data, blueprint: blueprint, listener: listener?.listener, stream: stream?.listener)
        if a.groupSize > 1 {
          listener?.listener.socket.close()
          listener = try client.makeListener()
          stream?.listener.close()
          stream = try client.makeStreamListener()
        }
        try requestTask(data, listener: listener, stream: stream, abandoned: abandoned)
      case .shutdown:
        listener?.listener.socket.close()
        return
      case .reject(let r):
        throw WorkerExit.rejected(r.reason)
      case .heartbeat, .welcome:
        continue
      default:
        logger.warning("ignored an unexpected \(env.message.kind) from the coordinator")
      }
    }
  }

  private func requestTask(
    _ data: PreparedData, listener: (listener: CollectiveListener, endpoint: String)?,
    stream: (listener: StreamListener, endpoint: String)?, abandoned: UInt64
  ) throws {
    try client.send(
      TaskRequestMessage(
        datasetHash: data.contentHash, ringEndpoint: listener?.endpoint ?? "", abandonedGroup: abandoned,
        streamEndpoint: stream?.endpoint ?? ""))
  }

  /// Runs a task (alone, or as rank `a.groupRank` of its group, the leader sending the result).
  /// Returns 0, or the group id when the group's ring failed (a member died or went silent):
  /// the task is given up, and this worker is ready for another.
  private func runTask(
    _ a: TaskAssignmentMessage, data: PreparedData, blueprint: ModelBlueprint,
    listener: CollectiveListener?, stream: StreamListener?
  ) throws -> UInt64 {
    let task = try FoldWire.decode(FoldTask.self, a.taskJSON, what: "fold task")
    let options = try FoldWire.decode(
      CrossValidationOptions.self, a.optionsJSON, what: "fold options")
    let g = a.groupSize
    let rank = Int(a.groupRank)
    guard rank >= 0, rank < g, g == 1 || listener != nil else {
      throw DLPError.training(
        "malformed task assignment: rank \(rank) of a group of \(g)\(listener == nil ? " (this worker has no ring listener)" : "")"
      )
    }
    guard g == 1 || a.peerEndpoints.count == Int(g) else {
      throw DLPError.training("malformed task assignment: \(a.peerEndpoints.count) ring endpoints for a group of \(g)")
    }
    var ring: ClusterCollective?
    defer { ring?.close() }
    do {
      var makeBackend: CrossValidation.BackendFactory?
      if g > 1, let listener {
        let r = try CollectiveFactory.group(
          rank: rank, size: Int(g), groupID: a.groupID, endpoints: a.peerEndpoints, keys: a.peerKeys,
          listener: listener, streamEndpoints: a.peerStreamEndpoints, stream: stream, context: client.context,
          timeout: client.options.collectiveTimeout ?? sweep.data.collectiveTimeout, security: client.security)
        ring = r
        makeBackend = { model, roles, batchSize in
          try ReplicaBackend(
            model: model, data: roles, batchSize: batchSize, collective: r,
            partition: BatchPartition(replica: rank, of: Int(g)))
        }
      }
      let result = try CrossValidation.run(
        task: task, data: data.train, makeModel: blueprint.make, options: options,
        normalize: sweep.kfold.normalize, makeBackend: makeBackend)
      if rank == 0 {
        try client.send(TaskResultMessage(taskID: a.taskID, resultJSON: FoldWire.encode(result)))
      }
      return 0
    } catch let e as TransportError where g > 1 {
      logger.warning(
        "\(name) gave up task (repeat \(task.repeat), fold \(task.fold)) of group \(a.groupID): its ring failed: \(e)"
      )
      return a.groupID
    }
  }

  /// The training data: shipped by the coordinator, or loaded here with the same dataset flags
  /// and checked against the coordinator's content hash (when the job spec has it; else the
  /// coordinator checks the hash of the task request).
  private func loadData(template: Model) throws -> PreparedData {
    if job.shipData {
      return try DataShipment.receive(name: job.datasetName, hash: job.datasetHash) { try client.receive() }
    }
    let data = try sweep.data.loadData(for: template)
    guard job.datasetHash == 0 || data.contentHash == job.datasetHash else {
      throw DLPError.data(
        "\(name) loaded '\(sweep.data.dataset)' with content hash \(String(data.contentHash, radix: 16)), the coordinator's has \(String(job.datasetHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)"
      )
    }
    return data
  }
}
