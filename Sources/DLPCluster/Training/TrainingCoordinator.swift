import DLP
import DLPTransport
import Foundation
import Logging

/// How the coordinator runs a training (or evaluation) job.
public struct CoordinatorOptions: Sendable {
  /// Control endpoint to bind, `tcp://HOST:PORT` (PORT may be `*`).
  public var bind: String
  /// Workers the job plans each batch over (and waits for at the start).
  public var expectWorkers: Int
  public var collective: CollectiveKind
  /// Send the prepared dataset to the workers instead of letting them load it.
  public var shipData: Bool
  /// How long to wait for all workers to connect, and to load their data.
  public var acceptTimeout: Double
  public var transport: RingTransport
  /// Below this many workers the job waits `rejoinTimeout` seconds for new ones, then ends.
  public var minWorkers: Int
  public var rejoinTimeout: Double
  public var heartbeat: HeartbeatSettings
  /// Longest wait of a collective for a peer.
  public var collectiveTimeout: Double
  /// Commit (collect the workers' shares of the model state) at least this often, in seconds,
  /// so a lost worker costs at most this much redone work.
  public var commitInterval: Double
  /// CURVE for every socket of the job (control, heartbeats, the central root; the workers'
  /// rings get their peers' keys) and the worker keys admitted; `.insecure` is plain text.
  public var security: SecurityOptions = .insecure

  public init(
    bind: String, expectWorkers: Int, collective: CollectiveKind = .ring, shipData: Bool = false,
    acceptTimeout: Double = 300, transport: RingTransport = .auto, minWorkers: Int = 1,
    rejoinTimeout: Double = 60,
    heartbeat: HeartbeatSettings = HeartbeatSettings(),
    collectiveTimeout: Double = ClusterDefaults.collectiveTimeout,
    commitInterval: Double = 2, security: SecurityOptions = .insecure
  ) {
    self.security = security
    self.bind = bind
    self.expectWorkers = expectWorkers
    self.collective = collective
    self.shipData = shipData
    self.acceptTimeout = acceptTimeout
    self.transport = transport
    self.minWorkers = minWorkers
    self.rejoinTimeout = rejoinTimeout
    self.heartbeat = heartbeat
    self.collectiveTimeout = collectiveTimeout
    self.commitInterval = commitInterval
  }

  func validate() throws {
    guard expectWorkers >= 1 else {
      throw DLPError.config("--expect-workers must be >= 1. Received: \(expectWorkers)")
    }
    guard minWorkers >= 1, minWorkers <= expectWorkers else {
      throw DLPError.config(
        "--min-workers must be between 1 and the worker count (\(expectWorkers)). Received: \(minWorkers)"
      )
    }
    guard transport != .shm || collective == .ring else {
      throw DLPError.config("--transport shm applies to the ring collective (--allreduce ring)")
    }
    for (name, v) in [
      ("--heartbeat-timeout", heartbeat.timeout), ("--collective-timeout", collectiveTimeout),
      ("--rejoin-timeout", rejoinTimeout),
    ] where !(v > 0 && v < 1e6) {
      throw DLPError.config("\(name) must be a positive number of seconds. Received: \(v)")
    }
  }
}

/// What happened to the workers during a job (the report's `elastic`).
public struct ElasticEvents: Sendable {
  public var workersLost: [String] = []
  public var workersJoined: [String] = []
  public var restarts = 0
  /// Training steps run again after a rollback to the last commit.
  public var stepsRedone = 0
  public var generations = 0
}

/// The coordinator of a training job: a `TrainingBackend` whose steps run on worker
/// processes. It owns the per-epoch order (through `Trainer.fit`), splits each global batch
/// over the workers of the current generation, adds up their statistics exactly, and keeps
/// the job going when workers come and go:
///
/// - A generation is a set of workers with ranks and one collective (`establish`). Under the
///   central collective the coordinator is the root, running the same `ShardedStep` on no rows.
/// - A commit collects each worker's share of the model state (its owned weights and optimizer
///   slots: ZeRO-1 shards) into a full `TrainingState`.
/// - A lost worker (its process exited, its heartbeat stopped, or a collective failed) ends the
///   generation: the survivors (and any replacement or newcomer) form the next one, restored to
///   the last commit, and `Trainer.fit` continues from that commit (`TrainingRollback`). Since a
///   step's result does not depend on how its batch is split, the job ends with the weights an
///   uninterrupted run would have, up to float summation order.
/// - A worker that connects during the job joins at the next step boundary, after a commit.
public final class TrainingCoordinator: TrainingBackend {
  public let options: CoordinatorOptions
  let control: ControlPlane
  let logger = Logger(label: "dlp.coordinator")
  var model: Model!
  var description: JobDescription!
  var data: PreparedData!
  var spec: JobSpecMessage!
  /// The workers of the running generation, by rank.
  var active: [Member] = []
  var generation: UInt64 = 0
  var choice = CollectiveChoice.ring(sharedMemory: false)
  /// Whether the current generation's ring over tcp runs on plain streams (`StreamRing`).
  var streamRing = false
  var root: (collective: CentralStepCollective, step: ShardedStep)?
  /// New workers: admitted and sent the job; ready once they loaded their data.
  var newcomers: [(member: Member, ready: Bool)] = []
  /// What a rollback restores, and the training steps since.
  var lastCommit: TrainingState?
  var stepsSinceCommit = 0
  /// Command sequence numbers (never reused, across generations).
  var sequence: UInt64 = 0
  /// Reports owed: for steps up to `reportsDue`, worker rank r owes them from `owed[r]` on
  /// (each worker reports in step order; steps in flight are consecutive).
  var owed: [UInt64] = []
  var reportsDue: UInt64 = 0
  private var commandScratch: [UInt32] = []
  static let pipelineDepth = 16
  public internal(set) var events = ElasticEvents()

  /// Binds the control and heartbeat sockets; workers may connect from now on.
  /// `context`: share one with workers running in this process (`inproc://` endpoints).
  public init(options: CoordinatorOptions, context: ZMQContext? = nil) throws {
    try options.validate()
    self.options = options
    control = try ControlPlane(
      bind: options.bind, acceptTimeout: options.acceptTimeout, heartbeat: options.heartbeat,
      security: options.security,
      context: context)
  }

  public var controlEndpoint: String { control.endpoint }

  /// What `LocalCluster` hands each local worker of a secured job (nil when insecure).
  public var localCredentials: (@Sendable (String) throws -> CurveCredentials)? {
    control.localCredentials
  }

  /// The local worker processes, when this process started them: a dead one is noticed at
  /// once and restarted while restarts are left.
  public var localCluster: LocalCluster? {
    get { control.localCluster }
    set { control.localCluster = newValue }
  }

  /// How the gradients travel in the current generation (the report's `allreduce`).
  public var collectiveInUse: String { choice.name }

  /// What the ring over tcp runs on in the current generation (the report's `tcp_wire`):
  /// "stream" or "zmq"; nil for other collectives and a single worker.
  public var tcpWireInUse: String? {
    guard choice == .ring(sharedMemory: false), active.count > 1 else { return nil }
    return streamRing ? "stream" : "zmq"
  }

  var stepsInFlight: Int { owed.isEmpty ? 0 : Int(reportsDue &+ 1 &- owed.min()!) }

  // MARK: start

  /// Waits for the workers, sends them the job (and the data, with `shipData`), waits until
  /// each has loaded it, and forms the first generation from `state` (default: the model's
  /// weights, a fresh optimizer).
  public func start(
    model: Model, description: JobDescription, data: PreparedData, state: TrainingState? = nil
  ) throws {
    self.model = model
    self.data = data
    try control.accept(count: options.expectWorkers)
    control.jobID = UInt64.random(in: 1...UInt64.max)
    var job = description
    job.collective = options.collective.description
    job.heartbeatPort = Endpoint.port(of: control.watchdog.endpoint) ?? 0
    job.heartbeatTimeout = options.heartbeat.timeout
    job.collectiveTimeout = options.collectiveTimeout
    job.generatorSeeds = model.layerGeneratorSeeds
    self.description = job
    spec = JobSpecMessage(
      jobID: control.jobID, modelJSON: model.toJSON(), fitJSON: job.encoded(),
      datasetName: data.datasetName,
      shipData: options.shipData, datasetHash: data.contentHash, seed: description.seed,
      collective: options.collective)
    for m in control.members { try sendJob(to: m) }
    // Workers that come while the first ones load their data join (or stand by) once the
    // first generation is formed.
    control.acceptsJoins = true
    var joinsDuringStart: [ControlPlane.Event] = []
    var ready = Set<Int>()
    // A worker that refuses the job (bad data, a model it cannot build) ends it, but only once
    // every member has settled: the others are still receiving the job and their data, and
    // ending at the first refusal would cut their deliveries short (each would then wait out
    // the heartbeat timeout instead of reporting what it found itself).
    var refused: [Int: String] = [:]
    let deadline = Date().addingTimeInterval(options.acceptTimeout)
    while ready.count + refused.count < control.members.count {
      guard Date() < deadline else {
        let late = control.members.filter { !ready.contains($0.id) && refused[$0.id] == nil }.map(
          \.name)
        throw DLPError.training(
          "\(late.joined(separator: ", ")) did not get ready in \(Int(options.acceptTimeout)) s")
      }
      for (m, text) in control.losses().members where refused[m.id] == nil {
        throw DLPError.training("\(m.name) was lost before training: \(text)")
      }
      let event = try control.next(timeout: 0.2)
      if case .join? = event { joinsDuringStart.append(event!) }
      guard case .message(let env, let m)? = event else { continue }
      switch env.message {
      case .heartbeat(let h) where h.sequence == 0 && h.generation == 0: ready.insert(m.id)
      case .errorReport(let e) where refused[m.id] == nil:
        refused[m.id] = "\(m.name) failed: \(e.loggableText)"
      default: continue
      }
    }
    if let first = control.members.lazy.compactMap({ refused[$0.id] }).first {
      throw DLPError.training(first)
    }
    // The model's own optimizer state (a .keras file's, or a fresh one).
    let initial = try state ?? TrainingState(capturing: model)
    lastCommit = initial
    try establish(control.members, state: initial)
    for join in joinsDuringStart { try handle(join) }
  }

  private func sendJob(to m: Member) throws {
    var s = spec!
    s.rank = Int32(m.id)
    s.worldSize = Int32(control.members.count)
    try control.sendJob(s, to: m, rank: m.id, world: control.members.count)
    if options.shipData {
      try DataShipment.send(data, codec: control.codec, socket: control.control, to: m.routingID)
    }
  }

  // MARK: TrainingBackend

  public func trainStep(
    rows: UnsafeBufferPointer<Int>, epoch: Int, step trainStep: UInt64,
    stats: UnsafeMutablePointer<Double>
  ) throws {
    try absorbChanges(stats: stats)
    try guarded {
      try sendCommands(rows: rows, epoch: epoch, phase: .train, trainStep: trainStep)
      if let root {
        try root.step.train(
          rows: UnsafeBufferPointer(start: nil, count: 0), of: nil, globalBatch: rows.count,
          rowOffset: 0,
          trainStep: trainStep, stats: stats)
      }
      try collectReports(into: stats, leaving: Self.pipelineDepth)
    }
    stepsSinceCommit += 1
  }

  public func settle(stats: UnsafeMutablePointer<Double>) throws {
    try guarded { try collectReports(into: stats, leaving: 0) }
  }

  public func evaluateStep(
    rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>
  ) throws {
    try guarded {
      try drainReports()
      try sendCommands(rows: rows, epoch: 0, phase: role == .test ? .evaluate : .validate)
      try collectReports(into: stats, leaving: 0)
    }
  }

  /// Collects the workers' shares of the model state into a full `TrainingState`, the point a
  /// later rollback returns to. Free when nothing trained since the last one.
  public func commit() throws -> TrainingState {
    if stepsSinceCommit == 0, let s = lastCommit { return s }
    let state = try guarded { () throws -> TrainingState in
      try drainReports()
      if root != nil { return try TrainingState(capturing: model) }
      return try gatherState()
    }
    lastCommit = state
    stepsSinceCommit = 0
    return state
  }

  public func restore(_ state: TrainingState) throws {
    lastCommit = state
    stepsSinceCommit = 0
    try establish(active, state: state)
  }

  /// Brings the coordinator's model up to date with the workers' (the last commit, made now if
  /// training ran since).
  public func syncWeights() throws {
    while true {
      do {
        let s = try commit()
        try model.parameters.load(s.weights)
        return
      } catch is TrainingRollback {
        continue
      }
    }
  }

  /// Tells every worker the job is over and closes the sockets.
  public func shutdown(reason: String) {
    root?.collective.close()
    root = nil
    control.shutdown(reason: reason)
  }

  // MARK: steps

  /// Sends each worker of the generation its contiguous part of `rows`.
  private func sendCommands(
    rows: UnsafeBufferPointer<Int>, epoch: Int, phase: Phase, trainStep: UInt64 = 0
  ) throws {
    sequence += 1
    let plan = ShardPlan(count: rows.count, parts: active.count)
    for (rank, m) in active.enumerated() {
      let part = plan.range(rank)
      commandScratch.removeAll(keepingCapacity: true)
      for i in part { commandScratch.append(UInt32(rows[i])) }
      try send(
        StepCommandMessage(
          epoch: UInt32(epoch), step: sequence, shardStart: UInt32(part.lowerBound),
          shardCount: UInt32(part.count),
          globalBatchSize: UInt32(rows.count), sampleIndices: commandScratch, phase: phase,
          trainStep: trainStep,
          generation: generation, learningRate: Double(model.compiled!.optimizer.learningRate)),
        to: m, step: sequence)
    }
    expectReports()
  }

  /// Every worker owes a report for the command just sent.
  private func expectReports() {
    if stepsInFlight == 0 {
      owed = Array(repeating: sequence, count: active.count)
    }
    reportsDue = sequence
  }

  /// Adds the reports that have arrived into `stats`, waiting only while more than
  /// `maxPending` steps are outstanding (0: until every report is in).
  func collectReports(into stats: UnsafeMutablePointer<Double>, leaving maxPending: Int) throws {
    let size = model.compiled!.layout.size
    while true {
      try checkLosses()
      let blocking = stepsInFlight > maxPending
      guard let event = try control.next(timeout: blocking ? 0.2 : 0) else {
        if blocking { continue }
        return
      }
      guard case .message(let env, let m) = event else {
        try handle(event)
        continue
      }
      switch env.message {
      case .metricsReport(let r):
        guard r.generation == generation, let rank = active.firstIndex(of: m) else { continue }
        let step = env.header.step
        guard step == owed[rank], step <= reportsDue, r.metricState.count == size - 2 else {
          logger.warning(
            "refused a metrics report for step \(step) from \(m.name) (not one it owes)")
          continue
        }
        stats[0] += r.lossSum
        stats[1] += Double(r.sampleCount)
        for (i, v) in r.metricState.enumerated() { stats[2 + i] += v }
        owed[rank] += 1
      default:
        try handle(event)
      }
    }
  }

  /// Waits for every outstanding report (for calls that have no statistics to add them to).
  func drainReports() throws {
    guard stepsInFlight > 0 else { return }
    var scratch = [Double](repeating: 0, count: model.compiled!.layout.size)
    try scratch.withUnsafeMutableBufferPointer {
      try collectReports(into: $0.baseAddress!, leaving: 0)
    }
  }

  /// What arrives besides the reports a loop waits for: join requests, readiness of newcomers,
  /// errors. A worker's collective that failed is a lost generation; any other error ends the job.
  func handle(_ event: ControlPlane.Event) throws {
    switch event {
    case .join(let hello, let routingID, let key):
      // Up to `expectWorkers` spares stand by (data loaded) to take a lost worker's place.
      guard active.count + newcomers.count < 2 * options.expectWorkers else {
        control.reject(
          routingID: routingID,
          reason:
            "the job already has its \(options.expectWorkers) workers and \(options.expectWorkers) spares"
        )
        return
      }
      let m = control.admit(hello, routingID: routingID, key: key)
      do {
        try sendJob(to: m)
      } catch let e as TransportError {
        // Gone before it got the job (it said Hello and hung up): its loss, not the job's.
        control.release(m, reason: "it could not be sent the job")
        logger.warning("\(m.name) left before it got the job: \(e)")
        return
      }
      newcomers.append((m, false))
      logger.info(
        active.count + newcomers.count <= options.expectWorkers
          ? "\(m.name) asked to join; it joins once its data is loaded"
          : "\(m.name) stands by as a spare")
    case .message(let env, let m):
      switch env.message {
      case .heartbeat(let h) where h.sequence == 0 && h.generation == 0:
        if let k = newcomers.firstIndex(where: { $0.member == m }) {
          newcomers[k].ready = true
          logger.info("\(m.name) is ready to join")
        }
      case .errorReport(let e) where e.code == ErrorCodes.collectiveFailed && !e.fatal:
        throw GenerationLost(reason: "\(m.name): \(e.loggableText)")
      case .errorReport(let e) where !active.contains(m):
        // A newcomer that cannot join (its data differs, say) leaves; the job goes on.
        newcomers.removeAll { $0.member == m }
        control.release(m, reason: "it failed before it joined: \(e.loggableText)")
        logger.warning("\(m.name) failed before it joined: \(e.loggableText)")
      case .errorReport(let e):
        throw DLPError.training("\(m.name) failed: \(e.loggableText)")
      default:
        return
      }
    }
  }

  /// Lost workers end the generation.
  func checkLosses() throws {
    let lost = try takeLosses()
    if !lost.isEmpty {
      throw GenerationLost(reason: lost.map(\.1).joined(separator: "; "), members: lost.map(\.0))
    }
  }

  /// The workers found gone since the last look that belong to the running generation. Lost
  /// newcomers and local processes that never joined just leave (a local one is replaced).
  func takeLosses() throws -> [(Member, String)] {
    let (lost, others) = control.losses()
    for (workerID, text) in others { try replaceLocal(workerID: workerID, because: text) }
    var ofGeneration: [(Member, String)] = []
    for (m, text) in lost {
      if active.contains(m) {
        ofGeneration.append((m, text))
      } else {
        newcomers.removeAll { $0.member == m }
        logger.warning("\(m.name) left before it joined: \(text)")
        try replaceLocal(workerID: m.hello.workerID, because: text)
      }
    }
    return ofGeneration
  }
}

/// A generation ended: a worker was lost (`members`), or a collective failed.
extension TrainingCoordinator {
  /// Sends to one member; a member that cannot be reached (its process died and the
  /// watchdog has not said so yet) is a lost generation, not the end of the job.
  func send<M: WireMessage>(_ message: M, to m: Member, step: UInt64 = 0) throws {
    do {
      try control.send(message, to: m, step: step)
    } catch let e as TransportError {
      throw GenerationLost(reason: "\(m.name) cannot be reached: \(e)", members: [m])
    }
  }
}

struct GenerationLost: Error, CustomStringConvertible {
  var reason: String
  var members: [Member] = []
  var description: String { reason }
}
