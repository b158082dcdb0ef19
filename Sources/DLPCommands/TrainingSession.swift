import DLP
import DLPCluster
import DLPTransport
import Foundation

/// One training job as the CLI runs it: fit (in-process or on workers), then evaluate on the
/// test split, and the report.
struct TrainingSession {
  let model: Model
  let data: PreparedData
  let options: FitOptions
  let validationSplit: Double
  let run: RunOptions
  let placement: Placement
  let description: JobDescription

  struct Outcome {
    var history: History
    var evaluation: [String: Double]?
    var workers: Int
    var datasetName: String
    /// How the gradients travelled ("ring/shm", "ring/tcp", "central/tcp"); nil in-process.
    var collective: String? = nil

    /// Prints the test figures, writes the report, and fails when training hit a NaN.
    func finish(report: String?) throws {
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
      if let ev = evaluation { o["evaluation"] = .object(ev.mapValues { JSONValue($0) }) }
      if let c = collective { o["allreduce"] = JSONValue(c) }
      if let r = history.stoppedReason { o["stopped_reason"] = JSONValue(r) }
      return .object(o)
    }
  }

  func execute() throws -> Outcome {
    let roles = try data.roles(validationSplit: validationSplit)
    let trainCount = roles[.train]!.count
    let validationCount = roles[.validation]?.count ?? 0
    return try ClusterSession.run(
      placement: placement, model: model, data: data, roles: roles, batchSize: options.batchSize, run: run,
      description: description
    ) { backend, workers in
      let history = try Trainer.fit(
        model: model, backend: backend, trainCount: trainCount, validationCount: validationCount, options: options,
        progress: run.progress)
      var evaluation: [String: Double]?
      if let t = data.test, history.stoppedReason == nil {
        evaluation = try Trainer.evaluate(model: model, backend: backend, role: .test, count: t.count, batchSize: options.batchSize)
      }
      return Outcome(
        history: history, evaluation: evaluation, workers: workers, datasetName: data.datasetName,
        collective: (backend as? Coordinator)?.collectiveInUse)
    }
  }
}

/// Runs `body` against the backend `placement` asks for: this process, N local worker
/// processes (started here, and stopped whatever happens), or workers connecting from other
/// hosts. Afterwards the model holds the final weights.
enum ClusterSession {
  static func run<T>(
    placement: Placement, model: Model, data: PreparedData, roles: [DataRole: ArrayData], batchSize: Int, run: RunOptions,
    description: JobDescription, _ body: (TrainingBackend, Int) throws -> T
  ) throws -> T {
    let coordinator: Coordinator
    var cluster: LocalCluster?
    switch placement {
    case .inProcess:
      return try body(LocalBackend(model: model, data: roles, batchSize: batchSize), 0)
    case .localWorkers(let n):
      let box = ClusterBox()
      coordinator = try Coordinator(
        options: run.coordinatorOptions(
          CoordinatorOptions(bind: "tcp://127.0.0.1:*", expectWorkers: n, collective: run.allreduce, transport: run.transport),
          security: .insecure),
        probe: { box.cluster?.deadWorker() })
      let local = try LocalCluster(workers: n, connect: coordinator.controlEndpoint, threads: run.threads ?? 1)
      box.cluster = local
      cluster = local
    case .external(let bind, let expect, let ship, let security):
      coordinator = try Coordinator(
        options: run.coordinatorOptions(
          CoordinatorOptions(bind: bind, expectWorkers: expect, collective: run.allreduce, shipData: ship, transport: run.transport),
          security: security))
      printLine("coordinator listening on \(coordinator.controlEndpoint) for \(expect) workers")
    }
    do {
      try coordinator.start(model: model, description: description, data: data)
      let result = try body(coordinator, coordinator.options.expectWorkers)
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

/// Lets the coordinator's watchdog ask about worker processes started after it.
final class ClusterBox: @unchecked Sendable {
  var cluster: LocalCluster?
}

extension RunOptions {
  /// `base` with this run's security and timeouts.
  func coordinatorOptions(_ base: CoordinatorOptions, security: SecurityOptions) -> CoordinatorOptions {
    var o = base
    o.security = security
    o.heartbeatTimeout = timeouts.resolvedHeartbeatTimeout
    o.collectiveTimeout = timeouts.resolvedCollectiveTimeout
    return o
  }
}
