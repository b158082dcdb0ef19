import DLP
import DLPTransport
import Foundation

/// Generations: forming the workers' collective, gathering commits, and recovering from lost
/// workers by rolling back to the last commit.
extension TrainingCoordinator {
  /// Runs `body`; a lost generation becomes a new one restored to the last commit, and the
  /// caller (`Trainer.fit`) is told to continue from that commit.
  func guarded<T>(_ body: () throws -> T) throws -> T {
    do {
      return try body()
    } catch let lost as GenerationLost {
      try recover(lost)
    } catch let e as TransportError where root != nil {
      // The root's own collective: a worker died or fell out of step.
      try recover(GenerationLost(reason: "the central collective failed: \(e)"))
    }
  }

  /// Gives up the lost workers, forms the next generation from the survivors (and newcomers)
  /// restored to the last commit, and throws `TrainingRollback`.
  func recover(_ lost: GenerationLost) throws -> Never {
    for m in lost.members {
      events.workersLost.append(m.name)
      control.release(m, reason: "this worker was given up on: \(lost.reason)")
      try replaceLocal(workerID: m.hello.workerID, because: lost.reason)
    }
    active.removeAll { lost.members.contains($0) }
    guard let state = lastCommit else { throw DLPError.training("\(lost.reason), before the job's first commit") }
    let redone = stepsSinceCommit
    events.stepsRedone += redone
    stepsSinceCommit = 0
    try establish(active, state: state)
    throw TrainingRollback(
      reason: "\(lost.reason); \(active.count) worker(s) go on from the last commit (\(redone) step(s) to redo)")
  }

  /// A local worker process that is gone gets a replacement while restarts are left.
  func replaceLocal(workerID: String, because text: String) throws {
    guard let cluster = localCluster, let child = cluster.takeChild(workerID: workerID) else { return }
    if try cluster.restart(replacing: child) {
      events.restarts += 1
      logger.warning("restarting local \(workerID) (\(cluster.restarts) of \(cluster.maxRestarts) restarts): \(text)")
    }
  }

  /// At a step boundary: workers found lost end the generation; newcomers that loaded their
  /// data join now (the weights and optimizer state as they are, after `stats` is settled).
  func absorbChanges(stats: UnsafeMutablePointer<Double>) throws {
    try guarded {
      try checkLosses()
      guard newcomers.contains(where: \.ready), active.count < options.expectWorkers else { return }
      try collectReports(into: stats, leaving: 0)
      // The state now, without making it the rollback point (the fit's progress is not saved
      // with it).
      let now = try currentState()
      try establish(active, state: now)
    }
  }

  /// The model's state as it is now (the last commit when nothing trained since).
  func currentState() throws -> TrainingState {
    if stepsSinceCommit == 0, let s = lastCommit { return s }
    try drainReports()
    return root != nil ? try TrainingState(capturing: model) : try gatherState()
  }

  // MARK: forming a generation

  /// Forms a new generation from `members` and the ready newcomers, every one of them
  /// continuing from `state`. Members that do not answer are given up and the next generation
  /// is tried; with fewer than `minWorkers` the job waits `rejoinTimeout` for new workers.
  func establish(_ members: [Member], state: TrainingState) throws {
    var candidates = members
    while true {
      generation += 1
      events.generations += 1
      control.watchdog.generation = generation
      root?.collective.close()
      root = nil
      owed = []
      try admitNewcomers(into: &candidates)
      do {
        try formGeneration(candidates, state: state)
        active = candidates
        return
      } catch let lost as GenerationLost {
        for m in lost.members {
          events.workersLost.append(m.name)
          control.release(m, reason: "this worker was given up on: \(lost.reason)")
          try replaceLocal(workerID: m.hello.workerID, because: lost.reason)
        }
        candidates.removeAll { lost.members.contains($0) }
        logger.warning("generation \(generation) did not form (\(lost.reason)); trying again with \(candidates.count) worker(s)")
      }
    }
  }

  /// Adds the ready newcomers (up to `expectWorkers`); below `minWorkers`, waits for more.
  private func admitNewcomers(into candidates: inout [Member]) throws {
    let deadline = Date().addingTimeInterval(options.rejoinTimeout)
    while true {
      while candidates.count < options.expectWorkers, let k = newcomers.firstIndex(where: \.ready) {
        let m = newcomers.remove(at: k).member
        candidates.append(m)
        events.workersJoined.append(m.name)
      }
      if candidates.count >= options.minWorkers { return }
      guard Date() < deadline else {
        throw DLPError.training(
          "\(candidates.count) worker(s) left, fewer than --min-workers \(options.minWorkers), and no new worker joined in \(Int(options.rejoinTimeout)) s (--rejoin-timeout)"
        )
      }
      let (lost, others) = control.losses()
      for (workerID, text) in others { try replaceLocal(workerID: workerID, because: text) }
      for (m, text) in lost {
        candidates.removeAll { $0 == m }
        newcomers.removeAll { $0.member == m }
        events.workersLost.append(m.name)
        try replaceLocal(workerID: m.hello.workerID, because: text)
      }
      if let event = try control.next(timeout: 0.2) {
        do { try handle(event) } catch is GenerationLost {}  // an old generation's failure
      }
    }
  }

  /// Regroup, Reconfigure with the state, and every member's readiness; a member lost (or
  /// silent past the deadline) throws `GenerationLost`.
  private func formGeneration(_ members: [Member], state: TrainingState) throws {
    let g = generation
    let n = members.count
    let keys = members.allSatisfy { $0.key != nil } ? members.map { $0.key!.z85 } : []
    for m in members { try send(RegroupMessage(generation: g, peerKeys: keys), to: m) }
    var endpoints = [String?](repeating: nil, count: n)
    var streams = [String](repeating: "", count: n)
    var hosts = [String](repeating: "", count: n)
    try awaitEach(members, what: "RegroupReady") { env, rank in
      guard case .regroupReady(let r) = env.message, r.generation == g else { return false }
      endpoints[rank] = r.ringEndpoint
      streams[rank] = r.streamEndpoint
      hosts[rank] = r.hostIdentity
      return true
    }
    choice = try CollectiveChoice.decide(
      algorithm: options.collective, transport: options.transport,
      hosts: zip(members, hosts).map { ($0.name, $1) })
    if choice.name != "ring/tcp" || n == 1 { logger.info("generation \(g): \(n) worker(s), \(choice.name)") }
    // The ring over tcp runs on plain streams when every member listens for one (unsecured
    // workers do) and nobody asked for ZeroMQ (DLP_TCP_WIRE=zmq, to compare the two).
    let streamPeers = choice == .ring(sharedMemory: false) ? CollectiveFactory.streamEndpoints(streams, secured: control.security.isSecure) : []
    streamRing = !streamPeers.isEmpty
    if choice == .ring(sharedMemory: false) && n > 1 {
      logger.info("generation \(g): \(n) workers, ring/tcp over \(streamRing ? "plain streams" : "ZeroMQ")")
    }
    var centralPort = 0
    if choice == .central {
      let interrupt = Cancellation()
      control.watchdog.interrupt = interrupt
      let (c, port) = try CollectiveFactory.root(
        workers: n, jobID: control.jobID, generation: g, context: control.context, control: control.endpoint,
        timeout: options.collectiveTimeout, cancellation: interrupt, security: control.security)
      try state.restore(into: model, shard: 0..<model.parameters.count)
      root = (c, try ShardedStep(model: model, capacity: 1, collective: c))
      centralPort = port
    }
    let count = state.weights.count
    let plan = ShardPlan(count: count, parts: n)
    for (rank, m) in members.enumerated() {
      let owned = choice == .central ? 0..<0 : plan.range(rank)
      try send(
        ReconfigureMessage(
          generation: g, rank: Int32(rank), worldSize: Int32(n), peerEndpoints: endpoints.map { $0 ?? "" },
          sharedMemory: choice == .ring(sharedMemory: true), centralPort: UInt32(centralPort),
          iterations: UInt64(state.iterations), parameterCount: UInt64(count), slotCount: UInt32(state.slots.count),
          learningRate: Double(state.learningRate),
          peerKeys: keys, peerStreamEndpoints: streamPeers),
        to: m, step: g)
      try state.weights.withUnsafeBufferPointer {
        try StateTransfer.send($0, at: 0, tensor: 0, step: g, codec: control.codec, socket: control.control, routingID: m.routingID)
      }
      for (k, slot) in state.slots.enumerated() {
        try slot.withUnsafeBufferPointer {
          try StateTransfer.send(
            UnsafeBufferPointer(rebasing: $0[owned]), at: owned.lowerBound, tensor: UInt32(1 + k), step: g,
            codec: control.codec, socket: control.control, routingID: m.routingID)
        }
      }
    }
    try awaitEach(members, what: "readiness") { env, _ in
      guard case .heartbeat(let h) = env.message, h.sequence == 0, h.generation == g else { return false }
      return true
    }
  }

  /// Waits until every member sent a message `accept` takes (by its rank); loss or silence
  /// past the deadline throws `GenerationLost`.
  private func awaitEach(_ members: [Member], what: String, _ accept: (Envelope, Int) throws -> Bool) throws {
    var pending = Set(members.indices)
    let deadline = Date().addingTimeInterval(options.collectiveTimeout + options.heartbeat.timeout)
    while !pending.isEmpty {
      let (lost, others) = control.losses()
      for (workerID, text) in others { try replaceLocal(workerID: workerID, because: text) }
      let gone = lost.filter { l in members.contains(l.0) }
      if !gone.isEmpty { throw GenerationLost(reason: gone.map(\.1).joined(separator: "; "), members: gone.map(\.0)) }
      guard Date() < deadline else {
        let late = pending.map { members[$0] }
        throw GenerationLost(
          reason: "\(late.map(\.name).joined(separator: ", ")) sent no \(what) for generation \(generation)", members: late)
      }
      guard let event = try control.next(timeout: 0.2) else { continue }
      if case .message(let env, let m) = event, let rank = members.firstIndex(of: m) {
        if try accept(env, rank) {
          pending.remove(rank)
          continue
        }
        if case .errorReport(let e) = env.message, e.fatal { throw DLPError.training("\(m.name) failed: \(e.loggableText)") }
        continue
      }
      do { try handle(event) } catch is GenerationLost {}  // an old generation's failure
    }
  }

  // MARK: commits

  /// Every worker's owned share of the weights and optimizer slots, put together.
  func gatherState() throws -> TrainingState {
    sequence += 1
    let step = sequence
    let o = model.compiled!.optimizer
    let count = model.parameters.count
    let tensors = 1 + o.slotCount
    for m in active {
      try send(
        StepCommandMessage(
          epoch: 0, step: step, shardStart: 0, shardCount: 0, globalBatchSize: 0, sampleIndices: [], phase: .commit,
          generation: generation),
        to: m, step: step)
    }
    // Tensor t (0: weights, 1 + k: slot k) is flat[t * count ..< (t + 1) * count].
    var flat = [Float](repeating: 0, count: count * tensors)
    var iterations: UInt64?
    let plan = ShardPlan(count: count, parts: active.count)
    let members = active
    try flat.withUnsafeMutableBufferPointer { all in
      var receivers = [StateTransfer.Receiver?](repeating: nil, count: members.count)
      try awaitEach(members, what: "commit") { env, rank in
        switch env.message {
        case .commitReport(let r):
          let owned = plan.range(rank)
          guard r.step == step, r.generation == generation, r.ownedOffset == UInt64(owned.lowerBound),
            r.ownedLength == UInt64(owned.count), r.slotCount == UInt32(o.slotCount),
            r.iterations <= MessageLimits.maxIterations, iterations == nil || iterations == r.iterations
          else {
            throw DLPError.training("\(members[rank].name) sent a commit that does not fit its share (\(r))")
          }
          iterations = r.iterations
          var targets: [UInt32: StateTransfer.Receiver.Target] = [:]
          for t in 0..<tensors {
            targets[UInt32(t)] = .init(UnsafeMutableBufferPointer(rebasing: all[(t * count)..<((t + 1) * count)]), range: owned)
          }
          receivers[rank] = StateTransfer.Receiver(step: step, targets)
        case .weightChunk:
          guard receivers[rank] != nil else {
            throw DLPError.training("\(members[rank].name) sent state before its commit report")
          }
          try receivers[rank]!.accept(env, from: members[rank].name)
        default:
          return false
        }
        return receivers[rank]!.isComplete
      }
    }
    return TrainingState(
      weights: Array(flat[0..<count]), slots: (1..<tensors).map { Array(flat[($0 * count)..<(($0 + 1) * count)]) },
      iterations: Int(iterations ?? 0), learningRate: o.learningRate)
  }
}
