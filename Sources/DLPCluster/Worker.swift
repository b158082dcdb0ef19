import DLP
import DLPTransport
import Foundation
import Logging

/// A worker process: joins the coordinator's job (`ControlClient`) and runs it: a training job
/// (`TrainingReplica`) or a K-fold sweep (`FoldWorker`), as the job spec says.
public final class Worker {
  let options: WorkerOptions
  let context: ZMQContext?

  /// `context`: the coordinator's, when it runs in this process (`inproc://` endpoints).
  public init(options: WorkerOptions, context: ZMQContext? = nil) throws {
    self.options = options
    self.context = context
  }

  /// Runs the job to its end. Throws (after telling the coordinator) when it cannot go on.
  public func run() throws {
    let client = try ControlClient(options: options, context: context)
    defer { client.close() }
    do {
      let job = try client.handshake()
      if let sweep = try FoldJobDescription.sweep(in: job.fitJSON) {
        return try FoldWorker(client: client, job: job, sweep: sweep).run()
      }
      try TrainingReplica(client: client, job: job, description: try JobDescription.decode(job.fitJSON)).run()
    } catch let e as WorkerExit {
      throw e
    } catch is WorkerVanished {
      return
    } catch {
      try? client.send(ErrorReportMessage(text: "worker \(options.workerID): \(error)"))
      throw error
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
