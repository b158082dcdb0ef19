import DLP
import DLPTransport
import Foundation
import Logging

/// The coordinator of a distributed K-fold sweep (`dlp kfold --workers N`), and a
/// `FoldTaskRunner`: the tasks wait in a queue, and a worker gets the next one as soon as it
/// asks for one (ready) or sends back a result, so a slow worker holds nothing up. Each worker
/// builds a fresh model per task from the model JSON (`ModelBlueprint`) with the task's own seed
/// and runs `CrossValidation.run` on data it loaded itself (its content hash must be the
/// coordinator's) or received (`shipData`), so the results are those of the in-process runner,
/// whatever the worker count.
///
/// With `--group-size G`, a task goes to a group of G idle workers (longest idle first), each
/// told its rank and the group's ring listeners; they train it data-parallel (`GroupBackend`)
/// and the leader, rank 0, sends the result. Groups last one task: every worker asks for its
/// next task itself (with a fresh ring listener), so groups re-form around lost workers.
///
/// A worker that dies (its process exits, or its heartbeat stops) does not stop the sweep: its
/// group's task goes back to the front of the queue and the survivors finish; a group member
/// whose ring fails gives its task up and says so (`abandonedGroup`), which also requeues it.
/// The sweep fails only when fewer than G workers are left, or when a worker reports an error
/// (a task that fails on one worker would fail on any).
///
/// It runs on the coordinator's `ControlPlane`: its sockets, the Hello handshake (`accept`),
/// the message filter (`next`: unknown peers, late joiners, other jobs), lost workers
/// (`losses`) and `shutdown`.
public final class FoldCoordinator: FoldTaskRunner {
  let control: ControlPlane
  let options: CoordinatorOptions
  public let blueprint: ModelBlueprint
  public let job: FoldJobDescription
  /// The prepared training data (unnormalised: folds normalise), needed by `run`, and by
  /// `start` with shipData. Workers that load their own copy can start on it (`start`) while
  /// this process loads its own.
  public var data: PreparedData?
  private let logger = Logger(label: "dlp.kfold")
  private var started = false
  /// Ranks that are ready for tasks, and ranks given up on.
  private var ready: Set<Int> = []
  private var lost: Set<Int> = []
  private var readyDeadline = Date.distantFuture
  /// Task ids of earlier `run` calls are not reused.
  private var nextTaskID: UInt64 = 1
  /// Ready workers without a task, longest idle first, and the ring listener each announced
  /// for its next task (group sweeps). A worker is idle from its TaskRequest to its next
  /// assignment.
  private var idle: [Int] = []
  private var ringEndpoints: [Int: String] = [:]
  /// Each idle worker's stream listener for its next group (unsecured sweeps).
  private var streamEndpoints: [Int: String] = [:]
  /// Whether the log has said which wire the groups' rings run on.
  private var wireAnnounced = false
  /// Groups running a task, by group id, and the group each busy member belongs to.
  private struct Group {
    var members: [Int]
    var task: Int
  }
  private var groups: [UInt64: Group] = [:]
  private var groupOf: [Int: UInt64] = [:]
  private var nextGroupID: UInt64 = 1
  /// Why each lost worker was given up on, in order.
  public private(set) var losses: [String] = []
  /// Tasks given up by a group whose members all live (a ring that failed, a leader that sent
  /// no result), in order; a lost worker's task is in `losses`.
  public private(set) var requeues: [String] = []

  /// How often an idle worker hears from the coordinator (its idle timeout is longer).
  static let keepAliveInterval = 5.0

  /// Binds the control and heartbeat sockets; workers may connect from now on.
  public init(
    options: CoordinatorOptions, blueprint: ModelBlueprint, job: FoldJobDescription,
    data: PreparedData? = nil
  ) throws {
    guard job.kfold.groupSize >= 1, job.kfold.groupSize <= options.expectWorkers else {
      throw DLPError.config(
        "--group-size \(job.kfold.groupSize) needs between 1 and --workers (\(options.expectWorkers)) workers per fold task"
      )
    }
    guard !job.data.normalize else {
      throw DLPError.config("a K-fold sweep normalises per fold; the data must not be normalised")
    }
    try options.validate()
    self.options = options
    control = try ControlPlane(
      bind: options.bind, acceptTimeout: options.acceptTimeout, heartbeat: options.heartbeat, security: options.security)
    self.blueprint = blueprint
    self.job = job
    self.data = data
  }

  public var controlEndpoint: String { control.endpoint }

  /// The local worker processes, if this process launched them: a dead one is noticed at once
  /// (remote workers are noticed by their silence).
  public var localCluster: LocalCluster? {
    get { control.localCluster }
    set { control.localCluster = newValue }
  }

  /// `dlp kfold --workers N`: a coordinator on loopback and N `dlp-worker` processes with
  /// `threads` BLAS threads each.
  public static func launchLocal(
    workers: Int, threads: Int, shipData: Bool, blueprint: ModelBlueprint, job: FoldJobDescription,
    data: PreparedData? = nil, options: CoordinatorOptions? = nil
  ) throws -> FoldCoordinator {
    var o = options ?? CoordinatorOptions(bind: "tcp://127.0.0.1:*", expectWorkers: workers)
    o.bind = "tcp://127.0.0.1:*"
    o.expectWorkers = workers
    o.shipData = shipData
    let c = try FoldCoordinator(options: o, blueprint: blueprint, job: job, data: data)
    do {
      c.localCluster = try LocalCluster(
        workers: workers, connect: c.controlEndpoint, threads: threads, credentials: c.control.localCredentials)
    } catch {
      c.control.shutdown(reason: "could not start the workers")
      throw error
    }
    return c
  }

  /// Ends the sweep: tells the workers, closes the sockets, and (local workers) waits for them
  /// to exit, killing any that do not.
  public func finish(reason: String, failed: Bool = false) {
    control.shutdown(reason: reason)
    localCluster?.finish(grace: failed ? 1 : 3)
  }

  // MARK: start

  /// Waits for the workers, then sends each the job: the model JSON, the fold job description
  /// and (with shipData) the data. Workers load their data and ask for tasks in their own time.
  /// `run` starts the sweep if this was not called before.
  public func start() throws {
    guard !started else { return }
    if options.shipData && data == nil {
      throw DLPError.config("the sweep's data must be there before it can be shipped")
    }
    // Until every worker has joined, a local worker that dies fails the sweep at once.
    try control.accept(count: options.expectWorkers)
    let jobID = UInt64.random(in: 1...UInt64.max)
    control.jobID = jobID
    var spec = job
    spec.data.heartbeatPort = Endpoint.port(of: control.watchdog.endpoint) ?? 0
    spec.data.heartbeatTimeout = options.heartbeat.timeout
    spec.data.collectiveTimeout = options.collectiveTimeout
    spec.workerKeys = control.members.compactMap { $0.key?.z85 }
    let fitJSON = spec.encoded()
    let modelJSON = blueprint.document.serialized()
    // Tasks train and validate on the training split only: the test split stays here.
    let shipment = data.map {
      PreparedData(
        train: $0.train, test: nil, datasetName: $0.datasetName, contentHash: $0.contentHash)
    }
    let world = control.members.count
    for w in control.members {
      do {
        try control.sendJob(
          JobSpecMessage(
            jobID: jobID, modelJSON: modelJSON, fitJSON: fitJSON,
            datasetName: data?.datasetName ?? job.data.dataset, shipData: options.shipData,
            datasetHash: data?.contentHash ?? 0, seed: job.data.seed,
            rank: Int32(w.id), worldSize: Int32(world)),
          to: w, rank: w.id, world: world)
        if options.shipData, let shipment {
          try DataShipment.send(
            shipment, codec: control.codec, socket: control.control, to: w.routingID)
        }
      } catch {
        giveUp(on: w, because: "\(w.name) could not be sent the job: \(error)", task: nil)
      }
    }
    readyDeadline = Date().addingTimeInterval(options.acceptTimeout)
    started = true
  }

  // MARK: FoldTaskRunner

  public func run(
    tasks: [FoldTask], options: CrossValidationOptions, onResult: ((FoldResult) -> Void)?
  ) throws -> [FoldResult] {
    guard let data else { throw DLPError.config("the sweep has no data") }
    try start()
    for t in tasks { try t.validate(count: data.train.count) }
    let size = job.kfold.groupSize
    let optionsJSON = FoldWire.encode(options)
    let firstID = nextTaskID
    nextTaskID += UInt64(tasks.count)
    // Keyed by group id: a group runs one task, and a task lost with its group goes back.
    var queue = TaskQueue(count: tasks.count)
    var results = [FoldResult?](repeating: nil, count: tasks.count)
    var heardFrom: [Int: Date] = [:]
    groups = [:]
    groupOf = [:]

    func describe(_ t: Int) -> String { "(repeat \(tasks[t].repeat), fold \(tasks[t].fold))" }
    /// Ends a running group whose task did not finish: the task goes back on the queue. Its
    /// other members are busy until they ask for a task again (after their ring times out).
    func dissolve(_ id: UInt64, because text: String?) {
      guard let g = groups.removeValue(forKey: id) else { return }
      for m in g.members where groupOf[m] == id { groupOf[m] = nil }
      if let t = queue.requeue(worker: Int(id)), let text {
        let what = "\(text); its group's task \(describe(t)) goes back on the queue"
        requeues.append(what)
        logger.warning("\(what)")
      }
    }
    func lose(_ w: Member, _ text: String) {
      idle.removeAll { $0 == w.id }
      let task = groupOf[w.id].flatMap { groups[$0] }.map { tasks[$0.task] }
      if let id = groupOf[w.id] { dissolve(id, because: nil) }
      giveUp(on: w, because: text, task: task)
    }

    while !queue.isFinished {
      // 1. Workers that are gone: their groups' tasks go back on the queue.
      for (w, text) in findLosses() { lose(w, text) }
      let alive = control.members.filter { !lost.contains($0.id) }
      if alive.count < size || alive.isEmpty {
        throw DLPError.training(
          (alive.isEmpty
            ? "every worker is gone"
            : "\(alive.count) worker(s) left, too few for a group of \(size)")
            + ", \(queue.done.count) of \(tasks.count) fold tasks finished: "
            + losses.joined(separator: "; "))
      }
      if Date() > readyDeadline {
        for w in alive where !ready.contains(w.id) {
          lose(w, "\(w.name) did not get ready in \(Int(self.options.acceptTimeout)) s")
        }
      }
      // 2. Groups of idle workers (longest idle first) pull the next tasks.
      while idle.count >= size, !queue.waiting.isEmpty {
        let members = Array(idle.prefix(size))
        idle.removeFirst(size)
        let id = nextGroupID
        nextGroupID += 1
        let t = queue.next(for: Int(id))!
        groups[id] = Group(members: members, task: t)
        for m in members { groupOf[m] = id }
        let peers = size > 1 ? members.map { ringEndpoints[$0] ?? "" } : []
        let streams =
          size > 1
          ? CollectiveFactory.streamEndpoints(members.map { streamEndpoints[$0] ?? "" }, secured: control.security.isSecure)
          : []
        if size > 1 && !wireAnnounced {
          wireAnnounced = true
          logger.info("groups of \(size): ring over \(streams.isEmpty ? "ZeroMQ" : "plain tcp streams")")
        }
        let keys = size > 1 ? members.compactMap { control.members[$0].key?.z85 } : []
        for (rank, m) in members.enumerated() {
          let record = control.members[m]
          // A member could not be reached: the rest wait for the next group, untold.
          guard groups[id] != nil else {
            groupOf[m] = nil
            idle.insert(m, at: 0)
            continue
          }
          do {
            try control.send(
              TaskAssignmentMessage(
                taskID: firstID + UInt64(t), taskJSON: FoldWire.encode(tasks[t]),
                optionsJSON: optionsJSON, groupID: id, groupRank: Int32(rank),
                peerEndpoints: peers, peerKeys: keys.count == peers.count ? keys : [], peerStreamEndpoints: streams),
              to: record)
            heardFrom[m] = Date()
          } catch {
            lose(record, "\(record.name) could not be sent a task: \(error)")
          }
        }
      }
      // 3. Idle workers hear from us now and then (they give up on a silent coordinator).
      for w in idle
      where Date().timeIntervalSince(heardFrom[w] ?? .distantPast) > Self.keepAliveInterval {
        try? control.send(HeartbeatMessage(sequence: 0), to: control.members[w])
        heardFrom[w] = Date()
      }
      // 4. Results and readiness.
      guard case .message(let env, let w)? = try control.next(timeout: 0.1), !lost.contains(w.id) else {
        continue
      }
      switch env.message {
      case .taskRequest(let r):
        guard r.datasetHash == data.contentHash else {
          throw DLPError.data(
            "\(w.name) has data with content hash \(String(r.datasetHash, radix: 16)), the coordinator's has \(String(data.contentHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)"
          )
        }
        guard size == 1 || !r.ringEndpoint.isEmpty else {
          throw DLPError.training("\(w.name) asked for a group task without a ring endpoint")
        }
        if r.abandonedGroup != 0 {
          dissolve(r.abandonedGroup, because: "\(w.name) gave up its task: its group's ring failed")
        }
        // Its part of its group's task is over; a leader that sent no result gave the task up.
        if let id = groupOf.removeValue(forKey: w.id), groups[id]?.members.first == w.id {
          dissolve(id, because: "\(w.name) led a group and sent no result")
        }
        guard !idle.contains(w.id) else { continue }
        if ready.insert(w.id).inserted { logger.info("\(w.name) is ready") }
        ringEndpoints[w.id] = r.ringEndpoint
        streamEndpoints[w.id] = r.streamEndpoint
        idle.append(w.id)
      case .taskResult(let r):
        guard let id = groupOf[w.id], let g = groups[id], g.members.first == w.id,
          r.taskID == firstID + UInt64(g.task)
        else {
          logger.warning("refused a result for task id \(r.taskID) from \(w.name): not its task")
          continue
        }
        let t = g.task
        let result = try FoldWire.decode(
          FoldResult.self, r.resultJSON, what: "fold result from \(w.name)")
        guard result.repeat == tasks[t].repeat, result.fold == tasks[t].fold else {
          throw DLPError.training(
            "\(w.name) answered task \(describe(t)) with the result of (repeat \(result.repeat), fold \(result.fold))"
          )
        }
        _ = queue.finish(worker: Int(id), task: t)
        // Done: the members' deaths from now on cost nothing.
        groups[id] = nil
        for m in g.members where groupOf[m] == id { groupOf[m] = nil }
        results[t] = result
        onResult?(result)
      case .errorReport(let e):
        throw DLPError.training("\(w.name) failed: \(e.loggableText)")
      default:
        continue
      }
    }
    return results.map { $0! }
  }

  // MARK: losses

  /// Workers found gone since the last look: exited local processes and silent heartbeats.
  private func findLosses() -> [(Member, String)] {
    control.losses().members.filter { !lost.contains($0.0.id) }
  }

  /// Gives up on a worker (its task, if it had one, is already back on the queue).
  private func giveUp(on w: Member, because text: String, task: FoldTask?) {
    guard lost.insert(w.id).inserted else { return }
    ready.remove(w.id)
    idle.removeAll { $0 == w.id }
    losses.append(text)
    let what = task.map { "its task (repeat \($0.repeat), fold \($0.fold)) goes back on the queue" }
    logger.warning(
      "\(text); \(what ?? "it ran no task"); \(control.members.count - lost.count) worker(s) left")
    // It may be alive but cut off: tell it the sweep is over for it.
    control.release(w, reason: "this worker was given up on: \(text)")
  }
}
