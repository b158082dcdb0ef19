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
    var reported = false
    defer { client.close(linger: reported ? 1 : 0) }
    do {
      let job = try client.handshake()
      if let sweep = try FoldJobDescription.sweep(in: job.fitJSON) {
        return try FoldWorker(client: client, job: job, sweep: sweep).run()
      }
      let description = try JobDescription.decode(job.fitJSON)
      try description.validate()
      try TrainingReplica(client: client, job: job, description: description).run()
    } catch let e as WorkerExit {
      throw e
    } catch is WorkerVanished {
      return
    } catch {
      if (try? client.send(ErrorReportMessage(text: "worker \(options.workerID): \(error)"))) != nil {
        reported = true
        if options.reportGrace > 0 { client.awaitShutdown(within: options.reportGrace) }
      }
      throw error
    }
  }
}

/// Ends a worker without reporting back (the coordinator already knows).
public enum WorkerExit: Error, CustomStringConvertible {
  case rejected(String)
  /// The security handshake failed (a key the coordinator does not admit, CURVE on one side
  /// only): there is no connection to report on, and trying would wait out the send timeout.
  case handshakeFailed(String)
  public var description: String {
    switch self {
    case .rejected(let r): return "the coordinator refused this worker: \(r)"
    case .handshakeFailed(let text): return text
    }
  }
}
