import DLP
import DLPTransport
import Foundation
import Logging

/// A worker process: joins the coordinator's job, builds the model from its Keras JSON, loads
/// (or receives) the data, and then runs step commands on its local BLAS engine: forward and
/// backward on its shard, the gradient all-reduce, the optimizer step, metrics back.
public final class Worker {
  let options: WorkerOptions
  let context: ZMQContext
  let control: ZMQSocket
  let codec = MessageCodec()
  let logger = Logger(label: "dlp.worker")
  private var heartbeat: HeartbeatSender?

  public init(options: WorkerOptions) throws {
    self.options = options
    context = try ZMQContext()
    control = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(maxMessageSize: 1 << 30, sendTimeout: 30, routingID: Array("w-\(options.workerID)".utf8)))
    control.peerRank = -1
    try control.connect(options.connect)
  }

  /// Runs the job to its end. Throws (after telling the coordinator) when it cannot go on.
  public func run() throws {
    defer {
      heartbeat?.stop()
      control.close()
    }
    do {
      try runJob()
    } catch let e as WorkerExit {
      throw e
    } catch {
      try? codec.send(ErrorReportMessage(text: "worker \(options.workerID): \(error)"), on: control)
      throw error
    }
  }

  /// Set once the job spec arrived: messages for other jobs are refused.
  private var jobID: UInt64?

  private func receive(timeout: Double) throws -> Envelope {
    while true {
      do {
        let env = try codec.receive(from: control, expecting: Expectation(kinds: nil), timeout: timeout)
        if let job = jobID, env.header.jobID != job {
          logger.warning("refused a \(env.message.kind) for job \(env.header.jobID) (this worker runs job \(job))")
          continue
        }
        return env
      } catch let e as TransportError {
        if case .timeout = e {
          throw DLPError.training("the coordinator at \(options.connect) said nothing for \(Int(timeout)) s; giving up")
        }
        // A malformed or foreign message is refused; the job goes on.
        logger.warning("refused a message: \(e)")
      }
    }
  }

  private func runJob() throws {
    let ring = RingAddress.choose(connect: options.connect, advertise: options.advertiseHost)
    let listener = try CollectiveListener(context: context, bind: ring.bindEndpoint)
    let ringEndpoint = listener.advertisedEndpoint(host: ring.advertiseHost)
    try codec.send(
      HelloMessage(
        protocolVersion: DLPProtocol.version, workerID: options.workerID, hostname: ProcessInfo.processInfo.hostName,
        pid: getpid(), blasThreads: Int32(options.threads), datasetHash: 0, datasetName: "", ringEndpoint: ringEndpoint,
        hostIdentity: HostIdentity.current),
      on: control)

    // Handshake: Welcome then JobSpec, or Reject.
    var spec: JobSpecMessage?
    while spec == nil {
      let env = try receive(timeout: 600)
      switch env.message {
      case .reject(let r): throw WorkerExit.rejected(r.reason)
      case .welcome: continue
      case .jobSpec(let s): spec = s
      case .shutdown(let s): throw WorkerExit.rejected("coordinator shut down: \(s.reason)")
      default: logger.warning("ignored \(env.message.kind) before the job spec")
      }
    }
    let job = spec!
    jobID = job.jobID
    codec.jobID = job.jobID
    codec.rank = job.rank
    // A K-fold sweep: tasks instead of steps.
    if let sweep = try FoldJobDescription.sweep(in: job.fitJSON) {
      return try FoldWorker(worker: self, job: job, sweep: sweep).run()
    }
    let description = try JobDescription.decode(job.fitJSON)
    let coordinatorHost = Endpoint.host(of: options.connect) ?? "127.0.0.1"
    heartbeat = try HeartbeatSender(
      context: context, endpoint: Endpoint.tcp(coordinatorHost, description.heartbeatPort),
      identity: "hb-\(options.workerID)", jobID: job.jobID, rank: job.rank)

    let (model, compile) = try KerasModelReader.read(JSONValue.parse(job.modelJSON, source: "the job's model"), seed: description.seed)
    try model.compile(keras: compile)
    let data: PreparedData
    if job.shipData {
      data = try DataShipment.receive(codec: codec, socket: control, name: job.datasetName, hash: job.datasetHash)
    } else {
      data = try description.loadData(for: model)
      guard job.datasetHash == 0 || data.contentHash == job.datasetHash else {
        throw DLPError.data(
          "worker \(options.workerID) loaded '\(description.dataset)' with content hash \(String(data.contentHash, radix: 16)), the coordinator's has \(String(job.datasetHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)")
      }
    }
    let replica = try Replica(
      model: model, data: data.roles(validationSplit: description.validationSplit), job: job, description: description,
      context: context, listener: listener, coordinatorHost: coordinatorHost)
    defer { replica.close() }

    // Ready: the coordinator now sends the initial weights, then steps.
    try codec.send(HeartbeatMessage(sequence: 0), on: control)
    while true {
      let env = try receive(timeout: options.idleTimeout)
      switch env.message {
      case .weightChunk:
        guard let payload = env.payload else { throw DLPError.training("weights without a payload") }
        try replica.loadWeights(payload)
      case .stepCommand(let command):
        if command.phase == .predict {
          // "Send me your weights": the coordinator's copy is stale under the ring collective.
          let p = model.parameters
          try codec.send(WeightChunkMessage(totalLength: UInt64(p.count), last: true), on: control, step: command.step, payload: UnsafeBufferPointer(p.valueBuffer))
          continue
        }
        let report = try replica.run(command)
        try codec.send(report, on: control, step: command.step)
      case .shutdown:
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
}

/// Ends a worker without reporting back (the coordinator already knows).
public enum WorkerExit: Error, CustomStringConvertible {
  case rejected(String)
  public var description: String {
    switch self {
    case .rejected(let r): return "the coordinator refused this worker: \(r)"
    }
  }
}

extension Model {
  /// Compiles from a Keras compile_config (what the coordinator wrote into the model JSON).
  public func compile(keras c: KerasCompileConfig?) throws {
    guard let c, !c.losses.isEmpty else { throw DLPError.config("the job's model JSON has no compile_config loss") }
    try compile(
      optimizer: KerasObjects.parseOptimizer(c.optimizer), losses: c.losses.map(Losses.named), metrics: c.metrics,
      lossWeights: c.lossWeights)
  }
}
