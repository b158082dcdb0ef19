import DLP
import DLPTransport
import Foundation
import Logging

/// A worker as the coordinator knows it: admitted once, with a number that never changes
/// (its rank in a generation may).
struct Member: Equatable {
  let id: Int
  let routingID: [UInt8]
  let hello: HelloMessage
  /// The CURVE public key it was admitted with (secured jobs).
  let key: CurveKey?
  var name: String {
    "worker \(id) (\(PeerText.loggable(hello.workerID)), pid \(hello.pid) on \(PeerText.loggable(hello.hostname)))"
  }
  var heartbeatIdentity: String { Watchdog.identity(workerID: hello.workerID) }
  static func == (a: Member, b: Member) -> Bool { a.id == b.id }
}

/// The coordinator's control plane, separate from the jobs that use it (training, evaluation,
/// K-fold sweeps): it binds the control ROUTER and the heartbeat `Watchdog`, admits workers
/// (the Hello handshake: protocol version, duplicate identities), filters what arrives
/// (malformed messages, strangers, other jobs: refused with a log line), hands a job to a
/// worker (Welcome, JobSpec, its heartbeat watched), reports lost workers (silent, or their
/// local process exited), and shuts everything down.
final class ControlPlane {
  let context: ZMQContext
  let control: ZMQSocket
  let codec = MessageCodec()
  let watchdog: Watchdog
  let endpoint: String
  let acceptTimeout: Double
  /// CURVE for this context's sockets (and the ZAP handler admitting the workers' keys).
  let security: SocketSecurity
  private let children: ChildBox
  private let logger = Logger(label: "dlp.coordinator")
  /// Every worker admitted so far, by id.
  private(set) var members: [Member] = []
  private var byRoutingID: [[UInt8]: Int] = [:]
  /// Whether a Hello from a new worker is a join request (training jobs take new workers at a
  /// step boundary) rather than refused because the job has started.
  var acceptsJoins = false
  /// Refusals so far (strangers, garbage, late or duplicate Hellos): what the log is spared.
  private var refusals = RefusalCounter()
  var started = false

  /// What `next` hands the job.
  enum Event {
    case message(Envelope, Member)
    /// A new worker's Hello while the job runs (only when `acceptsJoins`).
    case join(HelloMessage, routingID: [UInt8], key: String?)
  }

  /// The job's id: stamped on what is sent, required of what arrives.
  var jobID: UInt64 = 0 {
    didSet {
      codec.jobID = jobID
      watchdog.jobID = jobID
    }
  }

  /// `context`: share one with in-process workers (`inproc://` endpoints).
  init(
    bind: String, acceptTimeout: Double, heartbeat: HeartbeatSettings, security: SecurityOptions = .insecure,
    context: ZMQContext? = nil
  ) throws {
    self.context = try context ?? ZMQContext()
    // The control plane logs what it refuses itself, counted (`refused`), not a line each.
    codec.logsRefusals = false
    // Before any socket binds: the ZAP handler must be there when the first client knocks.
    self.security = try SocketSecurity(context: self.context, options: security)
    control = try ZMQSocket(
      context: self.context, kind: .router,
      options: self.security.server(
        .init(maxMessageSize: codec.limits.maxFrameBytes, sendTimeout: 30, routerMandatory: true)))
    do {
      endpoint = try control.bind(bind)
    } catch {
      throw DLPError.io("cannot bind the coordinator to \(bind): \(error)")
    }
    self.acceptTimeout = acceptTimeout
    let children = ChildBox()
    self.children = children
    watchdog = try Watchdog(
      context: self.context, bind: SiblingEndpoints.heartbeatBind(control: endpoint), settings: heartbeat,
      security: self.security,
      probe: { children.cluster?.takeExits().map { ($0.child.workerID, $0.description) } ?? [] })
  }

  /// The local worker processes, when this process started them.
  var localCluster: LocalCluster? {
    get { children.cluster }
    set { children.cluster = newValue }
  }

  var bindHost: String { Endpoint.host(of: endpoint) ?? "127.0.0.1" }

  /// For a secured job whose workers this process starts: a fresh key pair for the worker
  /// `workerID`, admitted here at once, and the coordinator's public key to check. Nil when the
  /// job is insecure.
  var localCredentials: (@Sendable (String) throws -> CurveCredentials)? {
    guard let server = security.publicKey else { return nil }
    let admitted = security.authorized
    return { workerID in
      let pair = try CurveKeyPair.generate()
      admitted.insert(pair.publicKey, name: "local worker \(workerID)")
      return CurveCredentials(keyPair: pair, serverKey: server)
    }
  }

  // MARK: admission

  /// Waits until `count` workers have said Hello (refusing old protocol versions and duplicate
  /// identities); a local worker that dies first fails at once.
  func accept(count: Int) throws {
    let deadline = Date().addingTimeInterval(acceptTimeout)
    while members.count < count {
      if let dead = localCluster?.deadWorker() { throw DLPError.training("\(dead) before it joined") }
      guard Date() < deadline else {
        throw DLPError.training(
          "only \(members.count) of \(count) workers connected to \(endpoint) in \(Int(acceptTimeout)) s")
      }
      guard let env = try receiveFiltered(timeout: 0.2) else { continue }
      guard case .hello(let h) = env.message, let id = env.routingID else {
        refused("a \(env.message.kind) before the job started")
        continue
      }
      if byRoutingID[id] == nil, checkHello(h, routingID: id) { _ = admit(h, routingID: id, key: env.peerKey) }
    }
  }

  /// Whether a Hello may be admitted; refuses it (telling the worker) when not.
  func checkHello(_ h: HelloMessage, routingID id: [UInt8]) -> Bool {
    guard h.protocolVersion == DLPProtocol.version else {
      reject(
        routingID: id,
        reason: "protocol version \(h.protocolVersion) is not supported (this coordinator speaks \(DLPProtocol.version))")
      refused("worker \(PeerText.loggable(h.workerID)): protocol version \(h.protocolVersion)")
      return false
    }
    guard !members.contains(where: { $0.hello.workerID == h.workerID && isWatched($0) }) else {
      reject(routingID: id, reason: "a worker with id \(h.workerID) is already in the job")
      refused("worker \(PeerText.loggable(h.workerID)): duplicate worker id")
      return false
    }
    return true
  }

  private var watched: Set<Int> = []
  private func isWatched(_ m: Member) -> Bool { watched.contains(m.id) }

  /// Makes a worker a member (`key`: the Z85 of the CURVE key ZAP admitted it with).
  func admit(_ h: HelloMessage, routingID id: [UInt8], key: String?) -> Member {
    let m = Member(id: members.count, routingID: id, hello: h, key: key.flatMap { try? CurveKey(z85: $0) })
    byRoutingID[id] = m.id
    members.append(m)
    logger.info("\(m.name) joined")
    return m
  }

  func reject(routingID id: [UInt8], reason: String) {
    let job = codec.jobID
    codec.jobID = 0
    try? codec.send(RejectMessage(reason: reason), on: control, routingID: id)
    codec.jobID = job
  }

  /// Sends a member the job: Welcome (with its rank and the world), the JobSpec, and starts
  /// watching its heartbeat.
  /// `rank` and `world` are provisional (elastic jobs give ranks per generation), but always a
  /// rank inside its world.
  func sendJob(_ spec: JobSpecMessage, to m: Member, rank: Int, world: Int) throws {
    codec.jobID = 0
    defer { codec.jobID = jobID }
    try codec.send(WelcomeMessage(jobID: jobID, rank: Int32(rank), worldSize: Int32(world)), on: control, routingID: m.routingID)
    codec.jobID = jobID
    try codec.send(spec, on: control, routingID: m.routingID)
    watch(m)
  }

  func watch(_ m: Member) {
    watched.insert(m.id)
    watchdog.watch(identity: m.heartbeatIdentity, name: m.name)
  }

  /// Stops watching a member, and tells it the job is over for it (it may be alive but cut off).
  func release(_ m: Member, reason: String) {
    watched.remove(m.id)
    watchdog.unwatch(identity: m.heartbeatIdentity)
    try? codec.send(ShutdownMessage(reason: reason), on: control, routingID: m.routingID)
  }

  // MARK: traffic

  func send<M: WireMessage>(
    _ message: M, to m: Member, step: UInt64 = 0, tensorID: UInt32 = 0, payload: UnsafeBufferPointer<Float>? = nil
  ) throws {
    try codec.send(message, on: control, step: step, tensorID: tensorID, payload: payload, routingID: m.routingID)
  }

  /// The next message from a member, or a join request; nil after `timeout` seconds of
  /// nothing acceptable. Malformed messages, strangers, messages of another job and late Hellos
  /// (when the job takes no joins) are refused with a log line.
  func next(timeout: Double) throws -> Event? {
    let deadline = Date().addingTimeInterval(timeout)
    while true {
      let left = max(0, deadline.timeIntervalSinceNow)
      guard let env = try receiveFiltered(timeout: left) else { return nil }
      guard let id = env.routingID else { continue }
      if let k = byRoutingID[id] {
        let m = members[k]
        guard env.header.jobID == jobID else {
          refused("a \(env.message.kind) for job \(env.header.jobID) from \(m.name)")
          continue
        }
        return .message(env, m)
      }
      if case .hello(let h) = env.message {
        if acceptsJoins {
          if checkHello(h, routingID: id) { return .join(h, routingID: id, key: env.peerKey) }
        } else {
          refused(
            "worker \(PeerText.loggable(h.workerID)) from \(PeerText.loggable(h.hostname)): the job has already started")
          reject(routingID: id, reason: "the job has already started with \(members.count) workers")
        }
      } else {
        refused("a \(env.message.kind) from an unknown peer")
      }
      if left == 0 { return nil }
    }
  }

  /// Logs a refusal, the first ones each, then one line per thousand (`RefusalCounter`).
  func refused(_ what: @autoclosure () -> String) {
    if let suffix = refusals.note() { logger.warning("refused \(what())\(suffix)") }
  }

  /// One message, or nil on timeout; transport-level garbage is refused and logged.
  private func receiveFiltered(timeout: Double) throws -> Envelope? {
    do {
      return try codec.receive(from: control, timeout: timeout)
    } catch let e as TransportError {
      if case .timeout = e { return nil }
      refused("a message: \(e)")
      return nil
    }
  }

  /// Members found gone since the last call (silent, or their local process exited), and the
  /// local workers that exited before they were members (by worker id).
  func losses() -> (members: [(Member, String)], strangers: [(workerID: String, text: String)]) {
    var found: [(Member, String)] = []
    var others: [(String, String)] = []
    for (identity, text) in watchdog.takeLosses() {
      if let m = members.last(where: { $0.heartbeatIdentity == identity }), watched.contains(m.id) {
        watched.remove(m.id)
        found.append((m, text))
      } else {
        others.append((String(identity.dropFirst(3)), text))
      }
    }
    return (found, others)
  }

  /// Tells every member the job is over and closes the sockets.
  func shutdown(reason: String) {
    for m in members { try? codec.send(ShutdownMessage(reason: reason), on: control, routingID: m.routingID) }
    watchdog.stop()
    control.close(linger: 1)
  }
}

/// Lets the watchdog's thread ask about worker processes started after it.
final class ChildBox: @unchecked Sendable {
  private let lock = NSLock()
  private var _cluster: LocalCluster?
  var cluster: LocalCluster? {
    get { lock.withLock { _cluster } }
    set { lock.withLock { _cluster = newValue } }
  }
}
