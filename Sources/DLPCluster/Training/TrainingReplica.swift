import DLP
import DLPTransport
import Foundation
import Logging

/// A worker's part in a training job: builds the model from the job's Keras JSON, loads (or
/// receives) and validates the data exactly as in-process training does, then follows the
/// coordinator: each generation's collective (`Regroup`, `Reconfigure` with the state to start
/// from), step commands on its rows of each global batch (`ShardedStep`, metrics back), commits
/// (its share of the model state), until the job ends.
///
/// A collective that fails (a peer died, or the coordinator announced a newer generation) is
/// not the end: the worker says so (`ErrorReport`, not fatal), drops the commands of that
/// generation and waits to be regrouped. Anything else that fails ends the worker with an
/// error report.
final class TrainingReplica {
  let client: ControlClient
  let job: JobSpecMessage
  let description: JobDescription
  private let logger = Logger(label: "dlp.worker.training")
  private var model: Model!
  private var data: [DataRole: ArrayData] = [:]
  private var listener: CollectiveListener?
  private var streamListener: StreamListener?
  private var collective: ClusterCollective?
  private var step: ShardedStep?
  /// The generation this worker runs, and whether its collective still works.
  private var generation: UInt64 = 0
  private var broken = true
  private var stats: [Double] = []
  private var rows: [Int] = []

  init(client: ControlClient, job: JobSpecMessage, description: JobDescription) {
    self.client = client
    self.job = job
    self.description = description
  }

  private var isCentral: Bool { description.algorithm == .central }

  func run() throws {
    defer { closeCollective() }
    try client.startHeartbeats(
      port: description.heartbeatPort,
      settings: HeartbeatSettings(timeout: client.options.heartbeatTimeout ?? description.heartbeatTimeout))
    let (m, compile) = try KerasModelReader.read(
      JSONValue.parse(job.modelJSON, source: "the job's model"), seed: description.seed)
    try m.compile(keras: compile)
    if !description.generatorSeeds.isEmpty { try m.adoptGeneratorSeeds(description.generatorSeeds) }
    model = m
    let prepared = try loadData()
    data = try prepared.roles(validationSplit: description.validationSplit)
    // The checks in-process training makes, before the first step: a bad label ends the job
    // with the same error, never a write out of bounds.
    try m.validateData(data)
    stats = [Double](repeating: 0, count: m.compiled!.layout.size)

    // Ready: the coordinator regroups the workers into the job's first generation.
    try client.send(HeartbeatMessage(sequence: 0))
    while true {
      let env = try client.receive()
      switch env.message {
      case .regroup(let r): try regroup(r)
      case .reconfigure(let r): try reconfigure(r)
      case .stepCommand(let c): try run(c)
      case .shutdown: return
      case .reject(let r): throw WorkerExit.rejected(r.reason)
      case .heartbeat, .welcome, .weightChunk: continue
      default: logger.warning("ignored an unexpected \(env.message.kind) from the coordinator")
      }
    }
  }

  private func loadData() throws -> PreparedData {
    if job.shipData {
      return try DataShipment.receive(name: job.datasetName, hash: job.datasetHash) { try self.client.receive() }
    }
    let d = try description.loadData(for: model)
    guard job.datasetHash == 0 || d.contentHash == job.datasetHash else {
      throw DLPError.data(
        "\(client.name) loaded '\(description.dataset)' with content hash \(String(d.contentHash, radix: 16)), the coordinator's has \(String(job.datasetHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)"
      )
    }
    return d
  }

  private func closeCollective() {
    collective?.close()
    collective = nil
    step = nil
    listener = nil
    streamListener = nil
    broken = true
  }

  // MARK: generations

  /// Leaves the current collective and announces a fresh listener for the next one.
  private func regroup(_ r: RegroupMessage) throws {
    guard r.generation > generation else { return }
    closeCollective()
    generation = r.generation
    // The generation's members connect to each other's listeners as soon as they are
    // reconfigured: admit them all now, before anyone is.
    if client.security.isSecure {
      for (i, z85) in r.peerKeys.enumerated() {
        client.security.authorize(try CurveKey(z85: z85, what: "a peer's CURVE key"), name: "generation \(r.generation) member \(i)")
      }
    }
    let (l, endpoint) = try client.makeListener()
    listener = l
    let stream = try client.makeStreamListener()
    streamListener = stream?.listener
    try client.send(
      RegroupReadyMessage(
        generation: r.generation, ringEndpoint: endpoint, hostIdentity: HostIdentity.current,
        streamEndpoint: stream?.endpoint ?? ""))
  }

  /// Joins the generation's collective and takes over the state it continues from.
  private func reconfigure(_ r: ReconfigureMessage) throws {
    let choice: CollectiveChoice = isCentral ? .central : .ring(sharedMemory: r.sharedMemory)
    guard r.generation == generation, listener != nil || r.worldSize == 1 || isCentral else {
      throw DLPError.training("Reconfigure for generation \(r.generation) while regrouped for \(generation)")
    }
    let c = model.compiled!
    let count = model.parameters.count
    try r.validate(parameterCount: count, slotCount: c.optimizer.slotCount, ring: choice != .central)
    let world = Int(r.worldSize)
    let rank = Int(r.rank)
    // The state first (it is queued behind the Reconfigure), into private memory.
    let owned = choice == .central ? 0..<0 : ShardPlan(count: count, parts: world).range(rank)
    try c.optimizer.restore(shard: owned, slots: [], iterations: Int(r.iterations))
    c.optimizer.learningRate = Float(r.learningRate)
    var targets: [UInt32: StateTransfer.Receiver.Target] = [0: .init(model.parameters.valueBuffer, range: 0..<count)]
    for k in 0..<c.optimizer.slotCount {
      targets[UInt32(1 + k)] = .init(c.optimizer.slot(k), base: owned.lowerBound, range: owned)
    }
    var receiver = StateTransfer.Receiver(step: r.generation, targets)
    while !receiver.isComplete {
      let env = try client.receive()
      switch env.message {
      case .weightChunk: try receiver.accept(env, from: "the coordinator")
      case .shutdown: throw WorkerExit.rejected("coordinator shut down during a reconfiguration")
      default: logger.warning("ignored a \(env.message.kind) during a reconfiguration")
      }
    }
    let cancellation = Cancellation()
    client.link?.running(cancellation, generation: r.generation)
    let made = try CollectiveFactory.member(
      r, choice: choice, jobID: job.jobID, context: client.context, listener: listener, stream: streamListener,
      coordinator: client.options.connect,
      model: model, timeout: client.options.collectiveTimeout ?? description.collectiveTimeout,
      cancellation: cancellation, security: client.security)
    listener = nil  // the collective owns it now
    streamListener = nil  // connected, or not used: later connections are refused
    collective = made
    let capacity = BatchPartition(replica: 0, of: world).part(of: description.batchSize).count
    step = try ShardedStep(model: model, capacity: capacity, collective: made)
    guard step!.owned == owned else {
      throw DLPError.training("the collective gives this worker \(step!.owned), the coordinator planned \(owned)")
    }
    broken = false
    try client.send(HeartbeatMessage(sequence: 0, generation: r.generation), step: r.generation)
  }

  // MARK: steps

  private func role(_ phase: Phase) throws -> DataRole {
    switch phase {
    case .train: return .train
    case .validate: return .validation
    case .evaluate: return .test
    default: throw DLPError.training("unsupported step phase \(phase)")
    }
  }

  private func run(_ c: StepCommandMessage) throws {
    // Commands of an older generation, or of one whose collective broke, are dropped: the
    // coordinator regroups and sends them again.
    guard c.generation == generation, !broken, let step else { return }
    if c.phase == .commit { return try sendCommit(c, step: step) }
    if c.learningRate > 0, let o = model.compiled?.optimizer, o.schedule == nil {
      o.learningRate = Float(c.learningRate)
    }
    let role = try role(c.phase)
    guard let d = data[role] else { throw DLPError.data("this worker has no \(role) data") }
    try c.validate(rows: d.count)
    let n = Int(c.shardCount)
    guard n <= step.executor.capacity else {
      throw DLPError.training("malformed step command: a shard of \(n) rows, more than this worker's \(step.executor.capacity)")
    }
    if c.phase == .train {
      FaultInjection.trainStep(c.trainStep, worker: client.options.workerID)
      if client.options.vanishAtTrainStep == c.trainStep { throw WorkerVanished() }
    }
    rows.removeAll(keepingCapacity: true)
    for i in c.sampleIndices { rows.append(Int(i)) }
    for i in stats.indices { stats[i] = 0 }
    do {
      try rows.withUnsafeBufferPointer { r in
        try stats.withUnsafeMutableBufferPointer { st in
          if c.phase == .train {
            try step.train(
              rows: r, of: d, globalBatch: Int(c.globalBatchSize), rowOffset: Int(c.shardStart),
              trainStep: c.trainStep, stats: st.baseAddress!)
          } else {
            step.evaluate(rows: r, of: d, stats: st.baseAddress!)
          }
        }
      }
    } catch let e as TransportError {
      broken = true
      logger.warning("the collective of generation \(generation) failed: \(e)")
      try client.send(
        ErrorReportMessage(code: ErrorCodes.collectiveFailed, text: "\(client.name): the collective failed: \(e)", fatal: false),
        step: c.step)
      return
    }
    try client.send(
      MetricsReportMessage(
        epoch: c.epoch, step: c.step, phase: c.phase, lossSum: stats[0], sampleCount: UInt64(stats[1]),
        metricState: Array(stats[2...]), generation: generation),
      step: c.step)
  }

  /// This worker's share of the model state: its owned range of the weights and of each
  /// optimizer slot.
  private func sendCommit(_ c: StepCommandMessage, step: ShardedStep) throws {
    let o = model.compiled!.optimizer
    let owned = step.owned
    try client.send(
      CommitReportMessage(
        step: c.step, generation: generation, iterations: UInt64(o.iterations), ownedOffset: UInt64(owned.lowerBound),
        ownedLength: UInt64(owned.count), slotCount: UInt32(o.slotCount)),
      step: c.step)
    let values = UnsafeBufferPointer(model.parameters.valueBuffer)
    try StateTransfer.send(
      UnsafeBufferPointer(rebasing: values[owned]), at: owned.lowerBound, tensor: 0, step: c.step, codec: client.codec,
      socket: client.control)
    for k in 0..<o.slotCount {
      try StateTransfer.send(
        UnsafeBufferPointer(o.slot(k)), at: owned.lowerBound, tensor: UInt32(1 + k), step: c.step, codec: client.codec,
        socket: client.control)
    }
  }
}

/// A worker stopping without a word (`WorkerOptions.vanishAtTrainStep`).
struct WorkerVanished: Error {}

/// `ErrorReportMessage.code`s the coordinator acts on.
enum ErrorCodes {
  /// The worker's collective failed; it waits to be regrouped.
  static let collectiveFailed: Int32 = 1
}
