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
  let worker: Worker
  let job: JobSpecMessage
  let sweep: FoldJobDescription
  private let logger = Logger(label: "dlp.worker.kfold")

  init(worker: Worker, job: JobSpecMessage, sweep: FoldJobDescription) {
    self.worker = worker
    self.job = job
    self.sweep = sweep
  }

  private var codec: MessageCodec { worker.codec }
  private var name: String { "worker \(worker.options.workerID)" }

  func run() throws {
    let coordinatorHost = Endpoint.host(of: worker.options.connect) ?? "127.0.0.1"
    let heartbeat = try HeartbeatSender(
      context: worker.context, endpoint: Endpoint.tcp(coordinatorHost, sweep.data.heartbeatPort),
      identity: "hb-\(worker.options.workerID)", jobID: job.jobID, rank: job.rank)
    defer { heartbeat.stop() }

    let blueprint = ModelBlueprint(
      document: try JSONValue.parse(job.modelJSON, source: "the sweep's model"))
    let data = try loadData(template: blueprint.make(seed: sweep.data.seed))

    // Ready: the coordinator now sends tasks, one at a time, and we ask again after each.
    // In groups (G > 1) every request carries a fresh ring listener: a task's ring closes its
    // listener, and no chunk of an earlier ring can reach the next one.
    let grouped = sweep.kfold.groupSize > 1
    var listener = grouped ? try makeListener() : nil
    try requestTask(data, listener: listener, abandoned: 0)
    while true {
      let env = try receive(timeout: worker.options.idleTimeout)
      switch env.message {
      case .taskAssignment(let a):
        let abandoned = try runTask(a, data: data, blueprint: blueprint, listener: listener)
        if a.groupSize > 1 {
          listener?.socket.close()
          listener = try makeListener()
        }
        try requestTask(data, listener: listener, abandoned: abandoned)
      case .shutdown:
        listener?.socket.close()
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

  private func requestTask(_ data: PreparedData, listener: CollectiveListener?, abandoned: UInt64)
    throws
  {
    try codec.send(
      TaskRequestMessage(
        datasetHash: data.contentHash, ringEndpoint: listener.map(advertised) ?? "",
        abandonedGroup: abandoned),
      on: worker.control)
  }

  /// Runs a task (alone, or as rank `a.groupRank` of its group, the leader sending the result).
  /// Returns 0, or the group id when the group's ring failed (a member died or went silent):
  /// the task is given up, and this worker is ready for another.
  private func runTask(
    _ a: TaskAssignmentMessage, data: PreparedData, blueprint: ModelBlueprint,
    listener: CollectiveListener?
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
    var ring: RingAllReduce?
    defer { ring?.close() }
    do {
      var makeBackend: CrossValidation.BackendFactory?
      if g > 1, let listener {
        let r = try RingAllReduce(
          context: worker.context, listener: listener,
          nextEndpoint: a.peerEndpoints[(rank + 1) % g],
          options: .init(
            rank: rank, worldSize: g, jobID: a.groupID, timeout: sweep.data.collectiveTimeout))
        ring = r
        makeBackend = { model, roles, batchSize in
          try GroupBackend(model: model, data: roles, batchSize: batchSize, ring: r)
        }
      }
      let result = try CrossValidation.run(
        task: task, data: data.train, makeModel: blueprint.make, options: options,
        normalize: sweep.kfold.normalize, makeBackend: makeBackend)
      if rank == 0 {
        try codec.send(
          TaskResultMessage(taskID: a.taskID, resultJSON: FoldWire.encode(result)),
          on: worker.control)
      }
      return 0
    } catch let e as TransportError where g > 1 {
      logger.warning(
        "\(name) gave up task (repeat \(task.repeat), fold \(task.fold)) of group \(a.groupID): its ring failed: \(e)"
      )
      return a.groupID
    }
  }

  /// A collective listener on the interface that faces the coordinator (where the peers are).
  private func makeListener() throws -> CollectiveListener {
    try CollectiveListener(context: worker.context, bind: ringAddress.bindEndpoint)
  }

  private var ringAddress: RingAddress {
    RingAddress.choose(connect: worker.options.connect, advertise: worker.options.advertiseHost)
  }

  private var ringHost: String { ringAddress.advertiseHost }

  private func advertised(_ l: CollectiveListener) -> String {
    l.advertisedEndpoint(host: ringHost)
  }

  /// The training data: shipped by the coordinator, or loaded here with the same dataset flags
  /// and checked against the coordinator's content hash (when the job spec has it; else the
  /// coordinator checks the hash of the task request).
  private func loadData(template: Model) throws -> PreparedData {
    if job.shipData {
      return try DataShipment.receive(
        codec: codec, socket: worker.control, name: job.datasetName, hash: job.datasetHash)
    }
    let data = try sweep.data.loadData(for: template)
    guard job.datasetHash == 0 || data.contentHash == job.datasetHash else {
      throw DLPError.data(
        "\(name) loaded '\(sweep.data.dataset)' with content hash \(String(data.contentHash, radix: 16)), the coordinator's has \(String(job.datasetHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)"
      )
    }
    return data
  }

  /// The next message of this sweep; malformed or foreign ones are refused and skipped.
  private func receive(timeout: Double) throws -> Envelope {
    while true {
      do {
        let env = try codec.receive(from: worker.control, timeout: timeout)
        guard env.header.jobID == job.jobID else {
          logger.warning(
            "refused a \(env.message.kind) for job \(env.header.jobID) (this worker runs job \(job.jobID))"
          )
          continue
        }
        return env
      } catch let e as TransportError {
        if case .timeout = e {
          throw DLPError.training(
            "the coordinator at \(worker.options.connect) said nothing for \(Int(timeout)) s; giving up"
          )
        }
        logger.warning("refused a message: \(e)")
      }
    }
  }
}
