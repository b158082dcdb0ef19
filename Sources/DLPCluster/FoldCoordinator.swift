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
/// It reuses the training `Coordinator`'s control plane: its sockets, the Hello handshake
/// (`accept`), the message filter (`nextMessage`: unknown peers, late joiners, other jobs) and
/// `shutdown`, with its heartbeat `Watchdog` in tolerant mode.
public final class FoldCoordinator: FoldTaskRunner {
  let core: Coordinator
  public let blueprint: ModelBlueprint
  public let job: FoldJobDescription
  /// The prepared training data (unnormalised: folds normalise), needed by `run`, and by
  /// `start` with shipData. Workers that load their own copy can start on it (`start`) while
  /// this process loads its own.
  public var data: PreparedData?
  private let gate: ProbeGate
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
    let gate = ProbeGate()
    core = try Coordinator(options: options, probe: { gate.deadWorker() })
    self.gate = gate
    self.blueprint = blueprint
    self.job = job
    self.data = data
  }

  public var controlEndpoint: String { core.controlEndpoint }

  /// The local worker processes, if this process launched them: a dead one is noticed at once
  /// (remote workers are noticed by their silence).
  public var localCluster: LocalCluster? {
    get { gate.cluster }
    set { gate.cluster = newValue }
  }

  /// `dlp kfold --workers N`: a coordinator on loopback and N `dlp-worker` processes with
  /// `threads` BLAS threads each.
  public static func launchLocal(
    workers: Int, threads: Int, shipData: Bool, blueprint: ModelBlueprint, job: FoldJobDescription,
    data: PreparedData? = nil
  ) throws -> FoldCoordinator {
    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: workers, shipData: shipData),
      blueprint: blueprint, job: job, data: data)
    do {
      c.localCluster = try LocalCluster(
        workers: workers, connect: c.controlEndpoint, threads: threads)
    } catch {
      c.core.shutdown(reason: "could not start the workers")
      throw error
    }
    return c
  }

  /// Ends the sweep: tells the workers, closes the sockets, and (local workers) waits for them
  /// to exit, killing any that do not.
  public func finish(reason: String, failed: Bool = false) {
    core.shutdown(reason: reason)
    localCluster?.finish(grace: failed ? 1 : 3)
  }

  // MARK: start

  /// Waits for the workers, then sends each the job: the model JSON, the fold job description
  /// and (with shipData) the data. Workers load their data and ask for tasks in their own time.
  /// `run` starts the sweep if this was not called before.
  public func start() throws {
    guard !started else { return }
    if core.options.shipData && data == nil {
      throw DLPError.config("the sweep's data must be there before it can be shipped")
    }
    // Until every worker has joined, a local worker that dies fails the sweep at once.
    try core.accept()
    gate.joined()
    core.watchdog.tolerateLosses()
    let jobID = UInt64.random(in: 1...UInt64.max)
    core.jobID = jobID
    var spec = job
    spec.data.heartbeatPort = Endpoint.port(of: core.watchdog.endpoint) ?? 0
    let fitJSON = spec.encoded()
    let modelJSON = blueprint.document.serialized()
    // Tasks train and validate on the training split only: the test split stays here.
    let shipment = data.map {
      PreparedData(
        train: $0.train, test: nil, datasetName: $0.datasetName, contentHash: $0.contentHash)
    }
    for w in core.workers {
      do {
        core.codec.jobID = 0
        try core.codec.send(
          WelcomeMessage(jobID: jobID, rank: Int32(w.rank), worldSize: Int32(core.workers.count)),
          on: core.control, routingID: w.routingID)
        core.codec.jobID = jobID
        try core.codec.send(
          JobSpecMessage(
            jobID: jobID, modelJSON: modelJSON, fitJSON: fitJSON,
            datasetName: data?.datasetName ?? job.data.dataset, shipData: core.options.shipData,
            datasetHash: data?.contentHash ?? 0, seed: job.data.seed,
            rank: Int32(w.rank), worldSize: Int32(core.workers.count)),
          on: core.control, routingID: w.routingID)
        core.watchdog.watch(identity: Self.heartbeatIdentity(w), name: w.name)
        if core.options.shipData, let shipment {
          try DataShipment.send(
            shipment, codec: core.codec, socket: core.control, to: w.routingID)
        }
      } catch {
        core.codec.jobID = jobID
        giveUp(on: w, because: "\(w.name) could not be sent the job: \(error)", task: nil)
      }
    }
    readyDeadline = Date().addingTimeInterval(core.options.acceptTimeout)
    started = true
  }

  static func heartbeatIdentity(_ w: WorkerRecord) -> String { "hb-\(w.hello.workerID)" }

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
    func lose(_ w: WorkerRecord, _ text: String) {
      idle.removeAll { $0 == w.rank }
      let task = groupOf[w.rank].flatMap { groups[$0] }.map { tasks[$0.task] }
      if let id = groupOf[w.rank] { dissolve(id, because: nil) }
      giveUp(on: w, because: text, task: task)
    }

    while !queue.isFinished {
      // 1. Workers that are gone: their groups' tasks go back on the queue.
      for (w, text) in findLosses() { lose(w, text) }
      let alive = core.workers.filter { !lost.contains($0.rank) }
      if alive.count < size || alive.isEmpty {
        throw DLPError.training(
          (alive.isEmpty
            ? "every worker is gone"
            : "\(alive.count) worker(s) left, too few for a group of \(size)")
            + ", \(queue.done.count) of \(tasks.count) fold tasks finished: "
            + losses.joined(separator: "; "))
      }
      if Date() > readyDeadline {
        for w in alive where !ready.contains(w.rank) {
          lose(w, "\(w.name) did not get ready in \(Int(core.options.acceptTimeout)) s")
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
        for (rank, m) in members.enumerated() {
          let record = core.workers[m]
          // A member could not be reached: the rest wait for the next group, untold.
          guard groups[id] != nil else {
            groupOf[m] = nil
            idle.insert(m, at: 0)
            continue
          }
          do {
            try core.codec.send(
              TaskAssignmentMessage(
                taskID: firstID + UInt64(t), taskJSON: FoldWire.encode(tasks[t]),
                optionsJSON: optionsJSON, groupID: id, groupRank: Int32(rank),
                peerEndpoints: peers),
              on: core.control, routingID: record.routingID)
            heardFrom[m] = Date()
          } catch {
            lose(record, "\(record.name) could not be sent a task: \(error)")
          }
        }
      }
      // 3. Idle workers hear from us now and then (they give up on a silent coordinator).
      for w in idle
      where Date().timeIntervalSince(heardFrom[w] ?? .distantPast) > Self.keepAliveInterval {
        try? core.codec.send(
          HeartbeatMessage(sequence: 0), on: core.control, routingID: core.workers[w].routingID)
        heardFrom[w] = Date()
      }
      // 4. Results and readiness.
      guard let (env, w) = try core.nextMessage(timeout: 0.1), !lost.contains(w.rank) else {
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
        if let id = groupOf.removeValue(forKey: w.rank), groups[id]?.members.first == w.rank {
          dissolve(id, because: "\(w.name) led a group and sent no result")
        }
        guard !idle.contains(w.rank) else { continue }
        if ready.insert(w.rank).inserted { logger.info("\(w.name) is ready") }
        ringEndpoints[w.rank] = r.ringEndpoint
        idle.append(w.rank)
      case .taskResult(let r):
        guard let id = groupOf[w.rank], let g = groups[id], g.members.first == w.rank,
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
        throw DLPError.training("\(w.name) failed: \(e.text)")
      default:
        continue
      }
    }
    return results.map { $0! }
  }

  // MARK: losses

  /// Workers found gone since the last look: exited local processes and silent heartbeats.
  private func findLosses() -> [(WorkerRecord, String)] {
    var out: [(WorkerRecord, String)] = []
    for (identity, text) in core.watchdog.takeLosses() {
      if let w = core.workers.first(where: { Self.heartbeatIdentity($0) == identity }),
        !lost.contains(w.rank)
      {
        out.append((w, text))
      }
    }
    if let cluster = localCluster {
      for w in core.workers
      where !lost.contains(w.rank) && !out.contains(where: { $0.0.rank == w.rank }) {
        if let how = cluster.exitDescription(pid: w.hello.pid) {
          out.append((w, "\(w.name) \(how)"))
        }
      }
    }
    return out
  }

  /// Gives up on a worker (its task, if it had one, is already back on the queue).
  private func giveUp(on w: WorkerRecord, because text: String, task: FoldTask?) {
    guard lost.insert(w.rank).inserted else { return }
    ready.remove(w.rank)
    idle.removeAll { $0 == w.rank }
    losses.append(text)
    core.watchdog.unwatch(identity: Self.heartbeatIdentity(w))
    let what = task.map { "its task (repeat \($0.repeat), fold \($0.fold)) goes back on the queue" }
    logger.warning(
      "\(text); \(what ?? "it ran no task"); \(core.workers.count - lost.count) worker(s) left")
    // It may be alive but cut off: tell it the sweep is over for it.
    try? core.codec.send(
      ShutdownMessage(reason: "this worker was given up on: \(text)"), on: core.control,
      routingID: w.routingID)
  }
}

/// The watchdog's process probe: reports a dead local worker only until every worker has
/// joined (then a death is a loss the sweep survives, found by `findLosses`).
final class ProbeGate: @unchecked Sendable {
  private let lock = NSLock()
  private var _cluster: LocalCluster?
  private var joining = true

  var cluster: LocalCluster? {
    get {
      lock.lock()
      defer { lock.unlock() }
      return _cluster
    }
    set {
      lock.lock()
      _cluster = newValue
      lock.unlock()
    }
  }

  func joined() {
    lock.lock()
    joining = false
    lock.unlock()
  }

  func deadWorker() -> String? {
    lock.lock()
    let c = joining ? _cluster : nil
    lock.unlock()
    return c?.deadWorker()
  }
}

extension LocalCluster {
  /// How the worker process `pid` ended, if it is one of ours and has exited (not reaped).
  func exitDescription(pid: pid_t) -> String? {
    guard pids.contains(pid) else { return nil }
    var info = siginfo_t()
    guard waitid(P_PID, id_t(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0,
      info._sifields._sigchld.si_pid == pid
    else { return nil }
    let status = info._sifields._sigchld.si_status
    return info.si_code == CLD_EXITED
      ? "exited with status \(status)" : "was killed by signal \(status)"
  }
}
