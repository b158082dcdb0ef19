import DLP
import DLPTransport
import Foundation
import Logging

/// A worker's part in a K-fold sweep, after the JobSpec said so (`FoldJobDescription`): load
/// (or receive) the data, say ready, then run each assigned task with `CrossValidation.run` on a
/// fresh model built from the job's model JSON with the task's seed, and send the result back,
/// until the coordinator says the sweep is over.
final class FoldWorker {
  let worker: Worker
  let job: JobSpecMessage
  let sweep: FoldJobDescription
  private let logger = Logger(label: "dlp.worker.kfold")

  init(worker: Worker, job: JobSpecMessage, sweep: FoldJobDescription) {
    self.worker = worker
    self.job = job
    self.sweep = sweep
  }

  private var codec: MessageCodec { worker.codec }
  private var name: String { "worker \(worker.options.workerID)" }

  func run() throws {
    let coordinatorHost = Endpoint.host(of: worker.options.connect) ?? "127.0.0.1"
    let heartbeat = try HeartbeatSender(
      context: worker.context, endpoint: Endpoint.tcp(coordinatorHost, sweep.data.heartbeatPort),
      identity: "hb-\(worker.options.workerID)", jobID: job.jobID, rank: job.rank)
    defer { heartbeat.stop() }

    let blueprint = ModelBlueprint(
      document: try JSONValue.parse(job.modelJSON, source: "the sweep's model"))
    let data = try loadData(template: blueprint.make(seed: sweep.data.seed))

    // Ready: the coordinator now sends tasks, one at a time.
    try codec.send(TaskRequestMessage(datasetHash: data.contentHash), on: worker.control)
    while true {
      let env = try receive(timeout: worker.options.idleTimeout)
      switch env.message {
      case .taskAssignment(let a):
        let task = try FoldWire.decode(FoldTask.self, a.taskJSON, what: "fold task")
        let options = try FoldWire.decode(
          CrossValidationOptions.self, a.optionsJSON, what: "fold options")
        let result = try CrossValidation.run(
          task: task, data: data.train, makeModel: blueprint.make, options: options,
          normalize: sweep.kfold.normalize)
        try codec.send(
          TaskResultMessage(taskID: a.taskID, resultJSON: FoldWire.encode(result)),
          on: worker.control)
      case .shutdown:
        return
      case .reject(let r):
        throw WorkerExit.rejected(r.reason)
      case .heartbeat, .welcome:
        continue
      default:
        logger.warning("ignored an unexpected \(env.message.kind) from the coordinator")
      }
    }
  }

  /// The training data: shipped by the coordinator, or loaded here with the same dataset flags
  /// and checked against the coordinator's content hash (when the job spec has it; else the
  /// coordinator checks the hash of the task request).
  private func loadData(template: Model) throws -> PreparedData {
    if job.shipData {
      return try DataShipment.receive(
        codec: codec, socket: worker.control, name: job.datasetName, hash: job.datasetHash)
    }
    let data = try sweep.data.loadData(for: template)
    guard job.datasetHash == 0 || data.contentHash == job.datasetHash else {
      throw DLPError.data(
        "\(name) loaded '\(sweep.data.dataset)' with content hash \(String(data.contentHash, radix: 16)), the coordinator's has \(String(job.datasetHash, radix: 16)): the datasets differ (use --ship-data when workers have no identical copy)"
      )
    }
    return data
  }

  /// The next message of this sweep; malformed or foreign ones are refused and skipped.
  private func receive(timeout: Double) throws -> Envelope {
    while true {
      do {
        let env = try codec.receive(from: worker.control, timeout: timeout)
        guard env.header.jobID == job.jobID else {
          logger.warning(
            "refused a \(env.message.kind) for job \(env.header.jobID) (this worker runs job \(job.jobID))"
          )
          continue
        }
        return env
      } catch let e as TransportError {
        if case .timeout = e {
          throw DLPError.training(
            "the coordinator at \(worker.options.connect) said nothing for \(Int(timeout)) s; giving up"
          )
        }
        logger.warning("refused a message: \(e)")
      }
    }
  }
}
