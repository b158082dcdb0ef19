import DLPTransport
import Foundation
import Logging

/// How often peers say they are alive, and how long silence is tolerated.
public struct HeartbeatSettings: Sendable, Equatable {
  public var interval: Double
  /// A worker silent this long is lost; a coordinator silent for twice this long is lost to its
  /// workers (they exit).
  public var timeout: Double

  public init(
    interval: Double = ClusterDefaults.heartbeatInterval,
    timeout: Double = ClusterDefaults.heartbeatTimeout
  ) {
    self.interval = interval
    self.timeout = timeout
  }
}

/// A worker's end of the heartbeat channel: its own thread and DEALER socket (ZeroMQ sockets
/// belong to one thread) say "alive" to the coordinator's `Watchdog` every interval, even while
/// the worker is busy in a long step or a collective, and hear the coordinator's heartbeats:
/// a coordinator silent for `2 * timeout` is lost (the worker exits instead of waiting
/// forever), and one that announces a newer generation makes the worker abandon the collective
/// it may be blocked in (`collectiveCancellation`), so survivors of a lost peer regroup at once.
final class HeartbeatLink: @unchecked Sendable {
  private let stopFlag = Cancellation()
  private let lock = NSLock()
  private var lostText: String?
  private var generation: UInt64 = 0
  private var collective: (cancellation: Cancellation, generation: UInt64)?
  /// Raised when the coordinator is lost: the worker's blocking receives give up.
  let coordinatorLoss = Cancellation()

  /// `security`: the worker's (a CURVE client of the coordinator when the job is secured).
  init(
    context: ZMQContext, endpoint: String, identity: String, jobID: UInt64, rank: Int32,
    settings: HeartbeatSettings, security: SocketSecurity? = nil
  ) throws {
    let base = ZMQSocket.Options(
      sendHighWaterMark: 4, receiveHighWaterMark: 64, maxMessageSize: 4096, sendTimeout: 0.5,
      routingID: Array(identity.utf8))
    let socket = try ZMQSocket(
      context: context, kind: .dealer, options: try security?.client(base) ?? base)
    try socket.connect(endpoint)
    let stop = stopFlag
    let t = Thread { [self] in
      let codec = MessageCodec(jobID: jobID, rank: rank)
      var sequence: UInt64 = 1
      var lastHeard = Date()
      var nextSend = Date()
      while !stop.isCancelled {
        if Date() >= nextSend {
          // A full queue (coordinator gone) is not an error here: the silence check notices.
          try? codec.send(
            HeartbeatMessage(
              sequence: sequence, sentUnixNanos: UInt64(Date().timeIntervalSince1970 * 1e9)),
            on: socket)
          sequence += 1
          nextSend = Date().addingTimeInterval(settings.interval)
        }
        if let env = try? codec.receive(from: socket, timeout: min(settings.interval, 0.1)),
          env.header.jobID == jobID, case .heartbeat(let h) = env.message
        {
          lastHeard = Date()
          heard(generation: h.generation)
        }
        let silent = Date().timeIntervalSince(lastHeard)
        if silent > 2 * settings.timeout {
          lose("the coordinator at \(endpoint) has been silent for \(Int(silent)) s")
          break
        }
      }
      socket.close()
    }
    t.name = "dlp-heartbeat"
    t.start()
  }

  private func heard(generation g: UInt64) {
    lock.lock()
    if g > generation { generation = g }
    let stale = collective.flatMap { $0.generation < generation ? $0.cancellation : nil }
    lock.unlock()
    stale?.cancel()
  }

  private func lose(_ text: String) {
    lock.lock()
    if lostText == nil { lostText = text }
    let c = collective?.cancellation
    lock.unlock()
    c?.cancel()
    coordinatorLoss.cancel()
  }

  /// Why the coordinator is considered gone, once it is.
  var lost: String? {
    lock.lock()
    defer { lock.unlock() }
    return lostText
  }

  /// Registers the collective the worker runs (of `generation`): cancelled as soon as the
  /// coordinator announces a newer generation or is lost.
  func running(_ cancellation: Cancellation, generation g: UInt64) {
    lock.lock()
    collective = (cancellation, g)
    let cancel = generation > g || lostText != nil
    lock.unlock()
    if cancel { cancellation.cancel() }
  }

  func stop() { stopFlag.cancel() }
}

/// The coordinator's end: owns the heartbeat ROUTER on its own thread, tracks when each watched
/// worker was last heard of (heartbeats of another job are refused), sends every watched
/// worker the coordinator's own heartbeat with the current generation, asks `probe` about
/// local child processes, and records each worker it finds gone (silent, or its process
/// exited) as a loss for the job to collect (`takeLosses`), raising `interrupt` so a blocked
/// collective gives up at once.
final class Watchdog: @unchecked Sendable {
  let endpoint: String
  private let lock = NSLock()
  private var lastSeen: [String: Date] = [:]
  private var names: [String: String] = [:]
  private var losses: [(identity: String, text: String)] = []
  private var _jobID: UInt64 = 0
  private var _generation: UInt64 = 0
  private var _interrupt: Cancellation?
  private let stopFlag = Cancellation()
  private let logger = Logger(label: "dlp.coordinator.watchdog")

  /// `probe` returns local workers that exited since its last call, by worker id.
  init(
    context: ZMQContext, bind: String, settings: HeartbeatSettings, security: SocketSecurity? = nil,
    probe: @escaping @Sendable () -> [(workerID: String, text: String)]
  ) throws {
    let base = ZMQSocket.Options(receiveHighWaterMark: 1000, maxMessageSize: 4096)
    let socket = try ZMQSocket(
      context: context, kind: .router, options: security?.server(base) ?? base)
    endpoint = try socket.bind(bind)
    let t = Thread { [self] in  // strong: the thread outlives short jobs until stop() ends its loop
      let codec = MessageCodec()
      // Garbage on the heartbeat port is counted, not logged a line each (`RefusalCounter`).
      codec.logsRefusals = false
      var refusals = RefusalCounter()
      var nextSend = Date()
      var sequence: UInt64 = 1
      while !stopFlag.isCancelled {
        var received: Envelope?
        do {
          received = try codec.receive(from: socket, timeout: 0.05)
        } catch {
          if case TransportError.timeout = error {
          } else if let suffix = refusals.note() {
            logger.warning("refused a message on the heartbeat port: \(error)\(suffix)")
          }
        }
        if let env = received, let id = env.routingID {
          let key = String(decoding: id, as: UTF8.self)
          lock.lock()
          if env.header.jobID == _jobID, lastSeen[key] != nil { lastSeen[key] = Date() }
          lock.unlock()
        }
        if Date() >= nextSend {
          lock.lock()
          let watched = Array(lastSeen.keys)
          codec.jobID = _jobID
          let beat = HeartbeatMessage(sequence: sequence, generation: _generation)
          lock.unlock()
          for id in watched { try? codec.send(beat, on: socket, routingID: Array(id.utf8)) }
          sequence += 1
          nextSend = Date().addingTimeInterval(settings.interval)
        }
        for (workerID, text) in probe() {
          lose(identity: Self.identity(workerID: workerID), text: text)
        }
        checkSilence(timeout: settings.timeout)
      }
      socket.close()
    }
    t.name = "dlp-watchdog"
    t.start()
  }

  /// A worker's heartbeat identity.
  static func identity(workerID: String) -> String { "hb-\(workerID)" }

  var jobID: UInt64 {
    get { lock.withLock { _jobID } }
    set { lock.withLock { _jobID = newValue } }
  }

  /// The generation the coordinator's heartbeats announce.
  var generation: UInt64 {
    get { lock.withLock { _generation } }
    set { lock.withLock { _generation = newValue } }
  }

  /// Cancelled at the next loss (the coordinator's own collective waits on it).
  var interrupt: Cancellation? {
    get { lock.withLock { _interrupt } }
    set { lock.withLock { _interrupt = newValue } }
  }

  /// Starts watching a worker's heartbeat identity.
  func watch(identity: String, name: String) {
    lock.lock()
    names[identity] = name
    lastSeen[identity] = Date()
    lock.unlock()
  }

  /// Stops watching a worker (it finished, or is known to be gone).
  func unwatch(identity: String) {
    lock.lock()
    lastSeen[identity] = nil
    names[identity] = nil
    lock.unlock()
  }

  private func checkSilence(timeout: Double) {
    lock.lock()
    let now = Date()
    let silent = lastSeen.filter { now.timeIntervalSince($0.value) > timeout }
    lock.unlock()
    for (id, seen) in silent {
      lose(
        identity: id,
        text:
          "stopped responding (no heartbeat for \(String(format: "%.1f", now.timeIntervalSince(seen))) s)"
      )
    }
  }

  private func lose(identity: String, text: String) {
    lock.lock()
    // A worker not (or no longer) watched is reported too: a local process that died before it
    // joined may be restarted.
    let name = names[identity]
    lastSeen[identity] = nil
    names[identity] = nil
    let full = text.hasPrefix("worker ") || name == nil ? text : "\(name!) \(text)"
    losses.append((identity, full))
    let interrupt = name == nil ? nil : _interrupt
    lock.unlock()
    if name != nil { logger.warning("\(full)") }
    interrupt?.cancel()
  }

  /// The workers found gone since the last call, by heartbeat identity.
  func takeLosses() -> [(identity: String, text: String)] {
    lock.lock()
    defer { lock.unlock() }
    let out = losses
    losses.removeAll()
    return out
  }

  func stop() { stopFlag.cancel() }
}
