import DLP
import DLPCluster
import DLPTransport
import Foundation

/// One training job as the CLI runs it: fit (in-process or on workers, committing and
/// checkpointing as asked, resumed from a checkpoint when asked), then evaluate on the test
/// split, and the report.
struct TrainingSession {
  let model: Model
  let data: PreparedData
  let options: FitOptions
  let validationSplit: Double
  let run: RunOptions
  let placement: Placement
  let description: JobDescription
  var checkpoints: CheckpointStore?
  var checkpointEvery: Int?
  /// The flags a checkpoint records (and a resume must match).
  var flags: [String: String] = [:]
  var resume: (checkpoint: Checkpoint, path: String)?
  /// Keras callbacks around the fit (--early-stopping, --checkpoint, ...).
  var callbacks: [Callback] = []

  struct Outcome {
    var history: History
    var evaluation: [String: Double]?
    var workers: Int
    var datasetName: String
    /// How the gradients travelled ("ring/shm", "ring/tcp", "central/tcp"); nil in-process.
    var collective: String? = nil
    /// The ring over tcp's wire: "stream" (plain sockets) or "zmq".
    var tcpWire: String? = nil
    var elastic: ElasticEvents? = nil
    var resumedFrom: String? = nil
    var checkpointsWritten = 0
    /// Whether the model's optimizer holds the state training left (not under the ring, where
    /// the workers held it in shards): a .keras file then saves it.
    var optimizerStateHeld = true
    /// Timeseries: the naive forecast's mean absolute errors, printed beside the model's.
    var baselines: [String: Double] = [:]

    /// Prints the test figures, writes the report, and fails when training hit a NaN.
    func finish(report: String?) throws {
      if !baselines.isEmpty {
        let text = baselines.keys.sorted().map { "\($0): \(String(format: "%.4f", baselines[$0]!))" }.joined(separator: " - ")
        printLine("naive baseline (the target's last value in each window) \(text)")
      }
      if let ev = evaluation {
        let text = ev.keys.sorted().map { "\($0): \(String(format: "%.4f", ev[$0]!))" }.joined(separator: " - ")
        printLine("test \(text)")
      }
      if let path = report { try writeJSONAtomically(json, to: path) }
      if let reason = history.stoppedReason { throw DLPError.training(reason) }
    }

    var json: JSONValue {
      var o: [String: JSONValue] = [
        "history": history.json,
        "train_seconds": JSONValue(history.trainSeconds),
        "samples_per_second": JSONValue(history.samplesPerSecond),
        "epoch_seconds": JSONValue(history.epochSeconds),
        "workers": JSONValue(workers),
        "dataset": JSONValue(datasetName),
        "blas_core": JSONValue(BLASKernelChoice.coreName),
      ]
      if let replaced = BLASKernelChoice.replacedCore { o["blas_core_replaced"] = JSONValue(replaced) }
      o["blas_core_reason"] = JSONValue(BLASKernelChoice.reason)
      if let ev = evaluation { o["evaluation"] = .object(ev.mapValues { JSONValue($0) }) }
      if let c = collective { o["allreduce"] = JSONValue(c) }
      if let w = tcpWire { o["tcp_wire"] = JSONValue(w) }
      if !baselines.isEmpty { o["baseline"] = .object(baselines.mapValues { JSONValue($0) }) }
      if let r = history.stoppedReason { o["stopped_reason"] = JSONValue(r) }
      if let e = elastic {
        o["elastic"] = [
          "workers_lost": .array(e.workersLost.map { JSONValue($0) }),
          "workers_joined": .array(e.workersJoined.map { JSONValue($0) }),
          "restarts": JSONValue(e.restarts), "steps_redone": JSONValue(e.stepsRedone),
          "generations": JSONValue(e.generations),
        ]
      }
      if let r = resumedFrom { o["resumed_from"] = JSONValue(r) }
      if checkpointsWritten > 0 { o["checkpoints_written"] = JSONValue(checkpointsWritten) }
      return .object(o)
    }
  }

  func execute() throws -> Outcome {
    let roles = try data.roles(validationSplit: validationSplit)
    let trainCount = roles[.train]!.count
    let validationCount = roles[.validation]?.count ?? 0
    let resumePoint = resume.map {
      FitCommit(state: $0.checkpoint.state, progress: FitProgress(saved: $0.checkpoint.progress, options: options))
    }
    if let r = resume, !run.quiet {
      let p = r.checkpoint.progress
      printLine("resuming from \(r.path): epoch \(p.epoch + 1), batch \(p.batch) (step \(p.stepsDone))")
    }
    return try ClusterSession.run(
      placement: placement, model: model, data: data, roles: roles, batchSize: options.batchSize, run: run,
      description: description, state: resumePoint?.state
    ) { backend, coordinator in
      var written = 0
      let store = checkpoints
      let every = checkpointEvery
      // On workers the job commits every couple of seconds (a lost worker costs at most that);
      // in-process only checkpoints need commits.
      var policy = CommitPolicy.never
      if coordinator != nil {
        policy = CommitPolicy(everySteps: every, interval: coordinator!.options.commitInterval, atEpochEnds: true)
      } else if store != nil {
        policy = CommitPolicy(everySteps: every, interval: nil, atEpochEnds: true)
      }
      var latest: FitCommit?
      var writtenSteps: UInt64?
      func write(_ commit: FitCommit) throws {
        guard let store else { return }
        try store.write(Checkpoint(state: commit.state, progress: commit.progress.saved, flags: flags))
        written += 1
        writtenSteps = commit.progress.stepsDone
        FaultInjection.checkpointWritten(written)
      }
      let history: History
      do {
        history = try Trainer.fit(
          model: model, backend: backend, trainCount: trainCount, validationCount: validationCount, options: options,
          progress: run.progress, commits: policy,
          onCommit: { commit in
            latest = commit
            let p = commit.progress
            // Disk checkpoints at epoch ends and every --checkpoint-every steps, not at the
            // frequent commits that only guard against lost workers.
            guard p.stepsDone > 0, p.batch == 0 || every.map({ p.stepsDone % UInt64($0) == 0 }) == true else { return }
            try write(commit)
          },
          resume: resumePoint, callbacks: callbacks)
      } catch {
        // A job that cannot go on (too few workers left, say) leaves its last commit behind.
        if store != nil, let latest, latest.progress.stepsDone > (writtenSteps ?? 0) {
          try? write(latest)
          run.progress.note(
            "wrote a checkpoint of the last commit (epoch \(latest.progress.epoch + 1), step \(latest.progress.stepsDone)) before stopping")
        }
        throw error
      }
      var evaluation: [String: Double]?
      if let t = data.test, history.stoppedReason == nil {
        evaluation = try Trainer.evaluate(model: model, backend: backend, role: .test, count: t.count, batchSize: options.batchSize)
      }
      return Outcome(
        history: history, evaluation: evaluation, workers: coordinator?.options.expectWorkers ?? 0,
        datasetName: data.datasetName, collective: coordinator?.collectiveInUse, tcpWire: coordinator?.tcpWireInUse, elastic: coordinator?.events,
        resumedFrom: resume?.path, checkpointsWritten: written, optimizerStateHeld: backend.holdsOptimizerState)
    }
  }
}

/// Runs `body` against the backend `placement` asks for: this process, N local worker
/// processes (started here, restarted when they crash, and stopped whatever happens), or
/// workers connecting from other hosts. Afterwards the model holds the final weights.
enum ClusterSession {
  static func run<T>(
    placement: Placement, model: Model, data: PreparedData, roles: [DataRole: ArrayData], batchSize: Int, run: RunOptions,
    description: JobDescription, state: TrainingState? = nil, _ body: (TrainingBackend, TrainingCoordinator?) throws -> T
  ) throws -> T {
    let coordinator: TrainingCoordinator
    var cluster: LocalCluster?
    switch placement {
    case .inProcess:
      return try body(LocalBackend(model: model, data: roles, batchSize: batchSize), nil)
    case .localWorkers(let n):
      coordinator = try TrainingCoordinator(options: try run.coordinatorOptions(bind: "tcp://127.0.0.1:*", workers: n))
      let local = try LocalCluster(
        workers: n, connect: coordinator.controlEndpoint, threads: run.threads ?? 1, maxRestarts: run.cluster.maxRestarts,
        credentials: coordinator.localCredentials)
      coordinator.localCluster = local
      cluster = local
    case .external(let bind, let expect, let ship, let security):
      coordinator = try TrainingCoordinator(
        options: try run.coordinatorOptions(bind: bind, workers: expect, shipData: ship, security: security))
      printLine("coordinator listening on \(coordinator.controlEndpoint) for \(expect) workers")
    }
    do {
      try coordinator.start(model: model, description: description, data: data, state: state)
      let result = try body(coordinator, coordinator)
      try coordinator.syncWeights()
      coordinator.shutdown(reason: "job finished")
      cluster?.finish()
      return result
    } catch {
      coordinator.shutdown(reason: "job failed: \(error)")
      cluster?.finish(grace: 1)
      throw error
    }
  }
}
