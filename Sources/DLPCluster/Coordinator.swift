import DLP
import DLPTransport
import Foundation
import Logging

/// How the coordinator runs a job.
public struct CoordinatorOptions: Sendable {
  /// Control endpoint to bind, `tcp://HOST:PORT` (PORT may be `*`).
  public var bind: String
  public var expectWorkers: Int
  /// "central" or "ring".
  public var collective: String
  /// Send the prepared dataset to the workers instead of letting them load it.
  public var shipData: Bool
  /// How long to wait for all workers to connect, and to load their data.
  public var acceptTimeout: Double
  /// How the ring moves its floats: "auto" (shared memory when every worker is on one host,
  /// else tcp), "tcp", or "shm" (refused unless every worker is on one host).
  public var transport: String
  /// CURVE for every socket the coordinator binds (control, heartbeats, central root) and the
  /// keys it admits; `.insecure` is plain text (loopback, or `--insecure`).
  public var security: SecurityOptions = .insecure
  /// Seconds without a worker's heartbeat before it counts as lost (`--heartbeat-timeout`).
  public var heartbeatTimeout: Double = ClusterDefaults.heartbeatTimeout
  /// Seconds of peer silence after which a collective gives up (`--collective-timeout`); the
  /// CLI also writes it into `JobDescription.collectiveTimeout` for the workers.
  public var collectiveTimeout: Double = ClusterDefaults.collectiveTimeout

  public init(
    bind: String, expectWorkers: Int, collective: String = "ring", shipData: Bool = false, acceptTimeout: Double = 300,
    transport: String = "auto"
  ) {
    self.bind = bind
    self.expectWorkers = expectWorkers
    self.collective = collective
    self.shipData = shipData
    self.acceptTimeout = acceptTimeout
    self.transport = transport
  }
}

/// A worker as the coordinator knows it.
struct WorkerRecord {
  let routingID: [UInt8]
  let rank: Int
  let hello: HelloMessage
  var name: String { "worker \(rank) (\(hello.workerID), pid \(hello.pid) on \(hello.hostname))" }
}

/// The coordinator: accepts N workers, hands them the job, then drives training as a
/// `TrainingBackend`: it owns the per-epoch order, shards each global batch across the workers,
/// and (central collective) sums their gradients and applies the optimizer step, or (ring)
/// lets them reduce among themselves; it adds up their metrics exactly.
public final class Coordinator: TrainingBackend {
  public let options: CoordinatorOptions
  public let controlEndpoint: String
  let context: ZMQContext
  let control: ZMQSocket
  let codec = MessageCodec()
  let watchdog: Watchdog
  let logger = Logger(label: "dlp.coordinator")
  var workers: [WorkerRecord] = []
  private var byRoutingID: [[UInt8]: Int] = [:]
  private var central: CentralAllReduce?
  private var model: Model?
  private var step: UInt64 = 0
  /// The running job (0 until `start`, or a K-fold sweep's start, assigns one).
  var jobID: UInt64 = 0
  private var commandScratch: [UInt32] = []
  /// Training keeps up to `pipelineDepth` steps in flight: workers run step after step without
  /// waiting for the coordinator to read their reports (every worker applies the same update,
  /// so nothing in a step depends on the coordinator having seen the previous one). Steps in
  /// flight are consecutive (evaluation and weight syncs wait for all reports first) and each
  /// worker reports in step order, so two numbers per worker say what is owed: reports are due
  /// for steps up to `reportsDue`, and worker r owes them from `owed[r]` on.
  private var owed: [UInt64] = []
  private var reportsDue: UInt64 = 0
  /// Steps some worker still owes a report for.
  private var stepsInFlight: Int { owed.isEmpty ? 0 : Int(reportsDue &+ 1 &- owed.min()!) }
  static let pipelineDepth = 16
  /// What the job's gradients travel by, once `start` has decided: "ring/shm", "ring/tcp" or
  /// "central/tcp" (the report's `allreduce`).
  public private(set) var collectiveInUse = ""

  /// Binds the control and heartbeat sockets. `probe` reports dead local worker processes.
  public init(options: CoordinatorOptions, probe: @escaping @Sendable () -> String? = { nil }) throws {
    guard options.expectWorkers >= 1 else { throw DLPError.config("--expect-workers must be >= 1") }
    guard ["central", "ring"].contains(options.collective) else {
      throw DLPError.config("unknown collective '\(options.collective)'; expected central or ring")
    }
    guard ["auto", "tcp", "shm"].contains(options.transport) else {
      throw DLPError.config("unknown transport '\(options.transport)'; expected auto, tcp or shm")
    }
    guard options.transport != "shm" || options.collective == "ring" else {
      throw DLPError.config("--transport shm applies to the ring collective (--allreduce ring)")
    }
    self.options = options
    context = try ZMQContext()
    control = try ZMQSocket(
      context: context, kind: .router,
      options: .init(maxMessageSize: 64 << 20, sendTimeout: 30, routerMandatory: true))
    do {
      controlEndpoint = try control.bind(options.bind)
    } catch {
      throw DLPError.io("cannot bind the coordinator to \(options.bind): \(error)")
    }
    watchdog = try Watchdog(context: context, bindHost: Endpoint.host(of: controlEndpoint) ?? "127.0.0.1", probe: probe)
  }

  var bindHost: String { Endpoint.host(of: controlEndpoint) ?? "127.0.0.1" }

  /// Throws the watchdog's failure, if any.
  func checkFailure() throws {
    if let f = watchdog.failure { throw DLPError.training(f) }
  }

  /// Receives the next control message, refusing (with a log line) anything malformed, from
  /// an unknown peer, for another job, or a late Hello (told the job has started).
  func nextMessage(timeout: Double) throws -> (Envelope, WorkerRecord)? {
    try checkFailure()
    let env: Envelope
    do {
      env = try codec.receive(from: control, timeout: timeout, cancellation: watchdog.cancellation)
    } catch let e as TransportError {
      switch e {
      case .timeout: return nil
      case .cancelled: try checkFailure(); return nil
      default:
        logger.warning("refused a message: \(e)")
        return nil
      }
    }
    guard let id = env.routingID, let rank = byRoutingID[id] else {
      if case .hello(let h) = env.message, let id = env.routingID {
        logger.warning("refused worker \(h.workerID) from \(h.hostname): the job has already started")
        try? codec.send(RejectMessage(reason: "the job has already started with \(workers.count) workers"), on: control, routingID: id)
      } else {
        logger.warning("refused a \(env.message.kind) from an unknown peer")
      }
      return nil
    }
    if env.header.jobID != jobID {
      logger.warning("refused a \(env.message.kind) for job \(env.header.jobID) from \(workers[rank].name)")
      return nil
    }
    return (env, workers[rank])
  }

  // MARK: job start

  /// Waits for the workers, sends them the job (and the data, with --ship-data), waits until each
  /// has built its replica and loaded the data, then sends the initial weights.
  public func start(model: Model, description: JobDescription, data: PreparedData) throws {
    self.model = model
    try accept()
    jobID = UInt64.random(in: 1...UInt64.max)
    codec.jobID = jobID
    var job = description
    job.collective = options.collective
    job.heartbeatPort = Endpoint.port(of: watchdog.endpoint) ?? 0
    job.sharedMemory = try useSharedMemory()
    if job.sharedMemory { logger.info("workers share a host: the ring runs through shared memory") }
    collectiveInUse = options.collective == "central" ? "central/tcp" : job.sharedMemory ? "ring/shm" : "ring/tcp"
    if options.collective == "central" {
      let c = try CentralAllReduce(
        context: context, endpoint: "tcp://\(bindHost):*",
        options: .init(
          rank: 0, worldSize: workers.count + 1, jobID: jobID, timeout: description.collectiveTimeout,
          rootContributes: false, cancellation: watchdog.cancellation))
      job.centralPort = Endpoint.port(of: c.endpoint ?? "") ?? 0
      central = c
    }
    let modelJSON = model.toJSON()
    let ring = workers.map(\.hello.ringEndpoint)
    for w in workers {
      codec.jobID = 0
      try codec.send(WelcomeMessage(jobID: jobID, rank: Int32(w.rank), worldSize: Int32(workers.count)), on: control, routingID: w.routingID)
      codec.jobID = jobID
      try codec.send(
        JobSpecMessage(
          jobID: jobID, modelJSON: modelJSON, fitJSON: job.encoded(), datasetName: data.datasetName,
          shipData: options.shipData, datasetHash: data.contentHash, seed: description.seed, rank: Int32(w.rank),
          worldSize: Int32(workers.count), peerEndpoints: ring, collective: options.collective == "central" ? .central : .ring),
        on: control, routingID: w.routingID)
      watchdog.watch(identity: "hb-\(w.hello.workerID)", name: w.name)
      if options.shipData { try DataShipment.send(data, codec: codec, socket: control, to: w.routingID) }
    }
    // Ready: each worker answers with heartbeat 0 once its replica and data are in place.
    var ready = Set<Int>()
    let deadline = Date().addingTimeInterval(options.acceptTimeout)
    while ready.count < workers.count {
      guard Date() < deadline else { throw DLPError.training("workers \(Set(workers.map(\.rank)).subtracting(ready).sorted()) did not get ready in \(Int(options.acceptTimeout)) s") }
      guard let (env, w) = try nextMessage(timeout: 0.2) else { continue }
      switch env.message {
      case .heartbeat(let h) where h.sequence == 0: ready.insert(w.rank)
      case .errorReport(let e): throw DLPError.training("\(w.name) failed: \(e.text)")
      default: continue
      }
    }
    try broadcastWeights()
  }

  /// Whether the ring should run through shared memory: every worker reported the same host
  /// identity (`--transport auto`), or the user asked for it (`shm`, refused when they differ).
  func useSharedMemory() throws -> Bool {
    guard options.collective == "ring", options.transport != "tcp", workers.count > 1 else { return false }
    let first = workers[0].hello.hostIdentity
    let apart = workers.filter { $0.hello.hostIdentity.isEmpty || $0.hello.hostIdentity != first }
    if options.transport == "shm", !apart.isEmpty {
      throw DLPError.config(
        "--transport shm needs every worker on one host (same kernel, /dev/shm, network namespace and user); \(apart.map(\.name).joined(separator: ", ")) \(apart.count == 1 ? "is" : "are") not on \(workers[0].name)'s; use --transport auto or tcp"
      )
    }
    return apart.isEmpty
  }

  /// Waits for `expectWorkers` Hellos (also the first step of a K-fold sweep).
  func accept() throws {
    let deadline = Date().addingTimeInterval(options.acceptTimeout)
    while workers.count < options.expectWorkers {
      try checkFailure()
      guard Date() < deadline else {
        throw DLPError.training("only \(workers.count) of \(options.expectWorkers) workers connected to \(controlEndpoint) in \(Int(options.acceptTimeout)) s")
      }
      let env: Envelope
      do {
        env = try codec.receive(from: control, timeout: 0.2, cancellation: watchdog.cancellation)
      } catch let e as TransportError {
        if case .timeout = e { continue }
        if case .cancelled = e { try checkFailure() }
        logger.warning("refused a message while waiting for workers: \(e)")
        continue
      }
      guard case .hello(let h) = env.message, let id = env.routingID else {
        logger.warning("refused a \(env.message.kind) before the job started")
        continue
      }
      guard h.protocolVersion == DLPProtocol.version else {
        try? codec.send(RejectMessage(reason: "protocol version \(h.protocolVersion) is not supported (this coordinator speaks \(DLPProtocol.version))"), on: control, routingID: id)
        logger.warning("refused worker \(h.workerID): protocol version \(h.protocolVersion)")
        continue
      }
      guard byRoutingID[id] == nil, !h.ringEndpoint.isEmpty || options.collective == "central" else {
        try? codec.send(RejectMessage(reason: "duplicate worker id or no ring endpoint"), on: control, routingID: id)
        continue
      }
      byRoutingID[id] = workers.count
      workers.append(WorkerRecord(routingID: id, rank: workers.count, hello: h))
      logger.info("worker \(workers.count - 1) joined: \(h.workerID) on \(h.hostname)")
    }
  }

  private func broadcastWeights() throws {
    let p = model!.parameters
    for w in workers {
      try codec.send(
        WeightChunkMessage(totalLength: UInt64(p.count), last: true), on: control, step: step,
        payload: UnsafeBufferPointer(p.valueBuffer), routingID: w.routingID)
    }
  }

  // MARK: TrainingBackend

  /// Sends each worker its contiguous shard of `rows`.
  /// `trainStep`: the fit's training steps before this one (the workers' dropout keys).
  private func sendCommands(
    rows: UnsafeBufferPointer<Int>, epoch: Int, phase: Phase, trainStep: UInt64 = 0
  ) throws {
    step += 1
    let shards = shardRanges(count: rows.count, parts: workers.count)
    for (w, shard) in zip(workers, shards) {
      commandScratch.removeAll(keepingCapacity: true)
      for i in shard { commandScratch.append(UInt32(rows[i])) }
      try codec.send(
        StepCommandMessage(
          epoch: UInt32(epoch), step: step, shardStart: UInt32(shard.lowerBound), shardCount: UInt32(shard.count),
          globalBatchSize: UInt32(rows.count), sampleIndices: commandScratch, phase: phase,
          trainStep: trainStep),
        on: control, step: step, routingID: w.routingID)
    }
  }

  /// Adds the metrics reports that have arrived into `stats`, waiting only while more than
  /// `maxPending` steps are outstanding (0: until every report is in).
  private func collectReports(into stats: UnsafeMutablePointer<Double>, leaving maxPending: Int) throws {
    let size = model!.compiled!.layout.size
    while true {
      let blocking = stepsInFlight > maxPending
      guard let (env, w) = try nextMessage(timeout: blocking ? 0.2 : 0) else {
        if blocking { continue }
        return
      }
      switch env.message {
      case .metricsReport(let m):
        let step = env.header.step
        guard w.rank < owed.count, step == owed[w.rank], step <= reportsDue, m.metricState.count == size - 2 else {
          logger.warning("refused a metrics report for step \(step) from \(w.name) (not one it owes)")
          continue
        }
        stats[0] += m.lossSum
        stats[1] += Double(m.sampleCount)
        for (i, v) in m.metricState.enumerated() { stats[2 + i] += v }
        owed[w.rank] += 1
      case .errorReport(let e):
        throw DLPError.training("\(w.name) failed: \(e.text)")
      default:
        continue
      }
    }
  }

  /// Every worker owes a report for the step just sent.
  private func expectReports() {
    // Nothing in flight: whatever steps passed since (weight syncs) owe nothing.
    if stepsInFlight == 0 {
      if owed.count != workers.count { owed = Array(repeating: step, count: workers.count) }
      for r in owed.indices { owed[r] = step }
    }
    reportsDue = step
  }

  /// Waits for every outstanding report, adding them into a scratch vector (for the calls that
  /// have no epoch statistics to add them to).
  private func drainReports() throws {
    guard stepsInFlight > 0, let size = model?.compiled?.layout.size else { return }
    var scratch = [Double](repeating: 0, count: size)
    try scratch.withUnsafeMutableBufferPointer { try collectReports(into: $0.baseAddress!, leaving: 0) }
  }

  /// Runs a collective, turning a failure into the watchdog's explanation when it has one.
  private func collective(_ body: () throws -> Void) throws {
    do {
      try body()
    } catch let e as TransportError {
      try checkFailure()
      throw DLPError.training("gradient exchange failed: \(e)")
    }
  }

  public func trainStep(
    rows: UnsafeBufferPointer<Int>, epoch: Int, step trainStep: UInt64,
    stats: UnsafeMutablePointer<Double>
  ) throws {
    try sendCommands(rows: rows, epoch: epoch, phase: .train, trainStep: trainStep)
    expectReports()
    if let central, let model {
      let p = model.parameters
      try collective { try central.reduce(p.gradBuffer, step: step) }
      if model.hasRegularizers { stats[0] += model.applyRegularization(addGradients: true) * Double(rows.count) }
      model.compiled!.optimizer.apply(params: p.values, grads: p.grads, ranges: p.trainableRanges, total: p.count)
      try collective { try central.broadcast(p.valueBuffer, step: step) }
    }
    try collectReports(into: stats, leaving: Self.pipelineDepth)
  }

  public func endEpoch(stats: UnsafeMutablePointer<Double>) throws {
    try collectReports(into: stats, leaving: 0)
  }

  public func evaluateStep(rows: UnsafeBufferPointer<Int>, role: DataRole, stats: UnsafeMutablePointer<Double>) throws {
    try drainReports()
    try sendCommands(rows: rows, epoch: 0, phase: role == .test ? .evaluate : .validate)
    expectReports()
    try collectReports(into: stats, leaving: 0)
  }

  /// Brings the coordinator's weights up to date (under the ring collective only the workers
  /// hold the current weights; every worker holds the same, so worker 0 sends them).
  public func syncWeights() throws {
    try drainReports()
    guard central == nil, let model, let first = workers.first else { return }
    step += 1
    try codec.send(
      StepCommandMessage(epoch: 0, step: step, shardStart: 0, shardCount: 0, globalBatchSize: 1, sampleIndices: [], phase: .predict),
      on: control, step: step, routingID: first.routingID)
    while true {
      guard let (env, w) = try nextMessage(timeout: 0.2) else { continue }
      if case .errorReport(let e) = env.message { throw DLPError.training("\(w.name) failed: \(e.text)") }
      guard case .weightChunk = env.message, w.rank == first.rank, env.header.step == step, let payload = env.payload else { continue }
      try payload.copy(into: model.parameters.valueBuffer)
      return
    }
  }

  /// Tells every worker the job is over and closes the sockets.
  public func shutdown(reason: String) {
    for w in workers { try? codec.send(ShutdownMessage(reason: reason), on: control, routingID: w.routingID) }
    central?.close()
    watchdog.stop()
    control.close(linger: 1)
  }
}
