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
  /// CURVE: this worker's key pair, the coordinator's key, and the ring peers it admits.
  let security: SocketSecurity
  /// Tells a refused handshake (wrong key, no CURVE on one side) from a silent coordinator:
  /// secured or not, since a worker without keys that meets a secured coordinator is refused
  /// at the handshake and should say so, not wait out its idle timeout.
  private var monitor: HandshakeMonitor?
  private(set) var link: HeartbeatLink?
  private var listeners = 0
  /// Set once the job spec arrived: messages for other jobs are refused.
  private(set) var jobID: UInt64?

  /// `context`: share the coordinator's when it runs in this process (`inproc://`).
  init(options: WorkerOptions, context: ZMQContext? = nil) throws {
    self.options = options
    self.context = try context ?? ZMQContext()
    security = try SocketSecurity(context: self.context, options: options.security)
    control = try ZMQSocket(
      context: self.context, kind: .dealer,
      options: try security.client(
        .init(
          maxMessageSize: codec.limits.maxFrameBytes, sendTimeout: 30, routingID: Array("w-\(options.workerID)".utf8))))
    control.peerRank = -1
    monitor = try HandshakeMonitor(socket: control)
    try control.connect(options.connect)
  }

  var name: String { "worker \(options.workerID)" }

  /// A fresh collective listener on the interface that faces the coordinator (where the peers
  /// are; `--advertise` for NAT), and the endpoint to announce for it.
  func makeListener() throws -> (listener: CollectiveListener, endpoint: String) {
    if SiblingEndpoints.isInProcess(options.connect) {
      listeners += 1
      let l = try CollectiveListener(
        context: context, bind: "inproc://\(options.workerID)-ring-\(listeners)", curve: security.serverRole)
      return (l, l.endpoint)
    }
    let ring = RingAddress.choose(connect: options.connect, advertise: options.advertiseHost)
    let l = try CollectiveListener(context: context, bind: ring.bindEndpoint, curve: security.serverRole)
    return (l, l.advertisedEndpoint(host: ring.advertiseHost))
  }

  /// A stream listener beside the collective listener, for the ring over plain tcp
  /// (`StreamRing`), and the endpoint to announce for it; nil for a secured worker (the stream
  /// has no encryption: its ring runs over ZeroMQ under CURVE) and an in-process one.
  func makeStreamListener() throws -> (listener: StreamListener, endpoint: String)? {
    guard !security.isSecure, !SiblingEndpoints.isInProcess(options.connect) else { return nil }
    let ring = RingAddress.choose(connect: options.connect, advertise: options.advertiseHost)
    let l = try StreamListener(host: ring.bindHost)
    return (l, l.advertisedEndpoint(host: ring.advertiseHost))
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
        if let failed = try monitor?.failure() { throw WorkerExit.handshakeFailed("\(failed)") }
        throw DLPError.training("the coordinator at \(options.connect) sent no job within \(Int(options.joinTimeout)) s")
      }
      // A refused CURVE handshake is said at once instead of waiting out the timeout.
      if let failed = try monitor?.failure() { throw WorkerExit.handshakeFailed("\(failed)") }
      guard let env = try next(within: min(left, 1)) else { continue }
      monitor?.close()
      monitor = nil
      switch env.message {
      case .reject(let r): throw WorkerExit.rejected(r.reason)
      case .welcome(let w):
        try w.validate()
        continue
      case .jobSpec(let s):
        try s.validate()
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
      jobID: jobID, rank: codec.rank, settings: settings, security: security)
  }

  /// The next message of this job, waiting at most `timeout` seconds (nil: until the coordinator
  /// is lost). Malformed or foreign messages are refused and skipped; a lost coordinator throws,
  /// and so does silence past `timeout`.
  func receive(timeout: Double? = nil) throws -> Envelope {
    if let env = try next(within: timeout) { return env }
    throw DLPError.training("the coordinator at \(options.connect) said nothing for \(Int(timeout ?? 0)) s; giving up")
  }

  /// The next message of this job, or nil after `timeout` seconds of nothing (nil: wait until
  /// the coordinator is lost).
  func next(within timeout: Double?) throws -> Envelope? {
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
          if let deadline, Date() >= deadline { return nil }
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

  /// After an error report: waits (at most `seconds`) until the coordinator says Shutdown, which
  /// it sends once it has the report, or is lost. Everything else is ignored.
  func awaitShutdown(within seconds: Double) {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      guard let env = try? next(within: max(0.01, deadline.timeIntervalSinceNow)) else { return }
      if case .shutdown = env.message { return }
    }
  }

  /// Closes the sockets; `linger` seconds for what is still queued on the control socket.
  func close(linger: Double = 0) {
    monitor?.close()
    link?.stop()
    control.close(linger: linger)
  }
}
