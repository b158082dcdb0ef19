import DLP
import DLPTransport
import Foundation
import Logging

/// A worker's end of the control plane, separate from the jobs it runs (training steps, fold
/// tasks): the DEALER to the coordinator, the Hello handshake, the heartbeat link (which also
/// tells when the coordinator is gone), receiving with foreign messages refused, and the
/// collective listeners the worker announces.
final class ControlClient {
  let options: WorkerOptions
  let context: ZMQContext
  let control: ZMQSocket
  let codec = MessageCodec()
  let logger = Logger(label: "dlp.worker")
  private(set) var link: HeartbeatLink?
  private var listeners = 0
  /// Set once the job spec arrived: messages for other jobs are refused.
  private(set) var jobID: UInt64?

  /// `context`: share the coordinator's when it runs in this process (`inproc://`).
  init(options: WorkerOptions, context: ZMQContext? = nil) throws {
    self.options = options
    self.context = try context ?? ZMQContext()
    control = try ZMQSocket(
      context: self.context, kind: .dealer,
      options: .init(
        maxMessageSize: codec.limits.maxFrameBytes, sendTimeout: 30, routingID: Array("w-\(options.workerID)".utf8)))
    control.peerRank = -1
    try control.connect(options.connect)
  }

  var name: String { "worker \(options.workerID)" }

  /// The host this worker's peers reach it at: `--advertise`, else the local address on the
  /// route to the coordinator.
  var advertisedHost: String { options.advertiseHost ?? LocalAddress.toward(options.connect) ?? "127.0.0.1" }

  /// A fresh collective listener on the interface that faces the coordinator (where the peers
  /// are), and the endpoint to announce for it.
  func makeListener() throws -> (listener: CollectiveListener, endpoint: String) {
    if SiblingEndpoints.isInProcess(options.connect) {
      listeners += 1
      let l = try CollectiveListener(context: context, bind: "inproc://\(options.workerID)-ring-\(listeners)")
      return (l, l.endpoint)
    }
    let host = advertisedHost
    let l = try CollectiveListener(context: context, bind: "tcp://\(host == "127.0.0.1" ? host : "0.0.0.0"):*")
    return (l, l.advertisedEndpoint(host: host))
  }

  /// Says Hello and waits for the job: Welcome then JobSpec, or a Reject.
  func handshake() throws -> JobSpecMessage {
    try codec.send(
      HelloMessage(
        protocolVersion: DLPProtocol.version, workerID: options.workerID, hostname: ProcessInfo.processInfo.hostName,
        pid: getpid(), blasThreads: Int32(options.threads), datasetHash: 0, datasetName: "", ringEndpoint: "",
        hostIdentity: HostIdentity.current),
      on: control)
    let deadline = Date().addingTimeInterval(options.joinTimeout)
    while true {
      let left = deadline.timeIntervalSinceNow
      guard left > 0 else {
        throw DLPError.training("the coordinator at \(options.connect) sent no job within \(Int(options.joinTimeout)) s")
      }
      let env = try receive(timeout: left)
      switch env.message {
      case .reject(let r): throw WorkerExit.rejected(r.reason)
      case .welcome: continue
      case .jobSpec(let s):
        jobID = s.jobID
        codec.jobID = s.jobID
        codec.rank = s.rank
        return s
      case .shutdown(let s): throw WorkerExit.rejected("coordinator shut down: \(s.reason)")
      default: logger.warning("ignored \(env.message.kind) before the job spec")
      }
    }
  }

  /// Starts the heartbeat link to the coordinator's watchdog (its port on the host we
  /// connected to).
  func startHeartbeats(port: Int, settings: HeartbeatSettings) throws {
    guard let jobID else { return }
    link = try HeartbeatLink(
      context: context, endpoint: SiblingEndpoints.heartbeatConnect(control: options.connect, port: port), identity: Watchdog.identity(workerID: options.workerID),
      jobID: jobID, rank: codec.rank, settings: settings)
  }

  /// The next message of this job, waiting at most `timeout` seconds (nil: until the coordinator
  /// is lost). Malformed or foreign messages are refused and skipped; a lost coordinator throws.
  func receive(timeout: Double? = nil) throws -> Envelope {
    let deadline = timeout.map { Date().addingTimeInterval($0) }
    while true {
      if let lost = link?.lost { throw DLPError.training("\(lost); giving up") }
      let slice = min(deadline.map { max(0, $0.timeIntervalSinceNow) } ?? 1, 1)
      do {
        let env = try codec.receive(from: control, timeout: slice, cancellation: link?.coordinatorLoss)
        if let job = jobID, env.header.jobID != job {
          logger.warning("refused a \(env.message.kind) for job \(env.header.jobID) (this worker runs job \(job))")
          continue
        }
        return env
      } catch let e as TransportError {
        switch e {
        case .timeout:
          if let deadline, Date() >= deadline {
            throw DLPError.training("the coordinator at \(options.connect) said nothing for \(Int(timeout!)) s; giving up")
          }
        case .cancelled: continue
        default:
          // A malformed or foreign message is refused; the job goes on.
          logger.warning("refused a message: \(e)")
        }
      }
    }
  }

  func send<M: WireMessage>(_ m: M, step: UInt64 = 0, tensorID: UInt32 = 0, payload: UnsafeBufferPointer<Float>? = nil)
    throws
  {
    try codec.send(m, on: control, step: step, tensorID: tensorID, payload: payload)
  }

  func close() {
    link?.stop()
    control.close()
  }
}
