import DLPTransport
import Foundation
import Logging

/// A worker's heartbeat: its own thread and DEALER socket (ZeroMQ sockets belong to one thread)
/// saying "alive" to the coordinator's heartbeat ROUTER every `interval`, even while the worker
/// is busy in a long step or a collective.
final class HeartbeatSender: @unchecked Sendable {
  private let stopFlag = Cancellation()
  private var thread: Thread?

  init(context: ZMQContext, endpoint: String, identity: String, jobID: UInt64, rank: Int32) throws {
    let socket = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(sendHighWaterMark: 4, sendTimeout: 0.5, routingID: Array(identity.utf8)))
    try socket.connect(endpoint)
    let stop = stopFlag
    let t = Thread {
      let codec = MessageCodec(jobID: jobID, rank: rank)
      var sequence: UInt64 = 1
      while !stop.isCancelled {
        // A full queue (coordinator gone) is not an error here: the main loop notices that.
        try? codec.send(HeartbeatMessage(sequence: sequence, sentUnixNanos: UInt64(Date().timeIntervalSince1970 * 1e9)), on: socket)
        sequence += 1
        Thread.sleep(forTimeInterval: ClusterDefaults.heartbeatInterval)
      }
      socket.close()
    }
    t.name = "dlp-heartbeat"
    t.start()
    thread = t
  }

  func stop() { stopFlag.cancel() }
}

/// The coordinator's watchdog: owns the heartbeat ROUTER on its own thread, tracks when each
/// worker was last heard of, asks `probe` about local child processes, and on the first failure
/// records it and cancels `cancellation` so blocked receives and collectives give up at once.
final class Watchdog: @unchecked Sendable {
  let endpoint: String
  let cancellation = Cancellation()
  private let lock = NSLock()
  private var lastSeen: [String: Date] = [:]
  private var names: [String: String] = [:]
  private var failureText: String?
  /// Set for jobs that outlive a worker (K-fold sweeps): a silent worker is recorded for
  /// `takeLosses()` and no longer watched, instead of failing the job.
  private var tolerant = false
  private var losses: [(identity: String, text: String)] = []
  private let stopFlag = Cancellation()
  private let logger = Logger(label: "dlp.coordinator.watchdog")

  /// `probe` returns a description of a dead local worker, if any (nil: all alive / not local).
  init(context: ZMQContext, bindHost: String, probe: @escaping @Sendable () -> String?) throws {
    let socket = try ZMQSocket(
      context: context, kind: .router, options: .init(receiveHighWaterMark: 1000, maxMessageSize: 4096))
    endpoint = try socket.bind(Endpoint.tcp(bindHost, 0).replacingOccurrences(of: ":0", with: ":*"))
    let t = Thread { [self] in  // strong: the thread outlives short jobs until stop() ends its loop
      let codec = MessageCodec()
      while !stopFlag.isCancelled {
        if let env = try? codec.receive(from: socket, timeout: 0.1), let id = env.routingID {
          let key = String(decoding: id, as: UTF8.self)
          lock.lock()
          if lastSeen[key] != nil || names[key] != nil { lastSeen[key] = Date() }
          lock.unlock()
        }
        if let dead = probe() { fail(dead) }
        checkSilence()
      }
      socket.close()
    }
    t.name = "dlp-watchdog"
    t.start()
  }

  /// Starts watching a worker's heartbeat identity.
  func watch(identity: String, name: String) {
    lock.lock()
    names[identity] = name
    lastSeen[identity] = Date()
    lock.unlock()
  }

  private func checkSilence() {
    lock.lock()
    let now = Date()
    var text: String?
    if let (id, seen) = lastSeen.first(where: { now.timeIntervalSince($0.value) > ClusterDefaults.heartbeatTimeout }) {
      text = "\(names[id] ?? id) stopped responding (no heartbeat for \(String(format: "%.1f", now.timeIntervalSince(seen))) s)"
      if tolerant {
        lastSeen[id] = nil
        names[id] = nil
        losses.append((id, text!))
        text = nil
      }
    }
    lock.unlock()
    if let text { fail(text) }
  }

  /// Makes a silent worker a loss to collect with `takeLosses()` rather than the job's failure.
  func tolerateLosses() {
    lock.lock()
    tolerant = true
    lock.unlock()
  }

  /// The workers found silent since the last call (tolerant mode), by heartbeat identity.
  func takeLosses() -> [(identity: String, text: String)] {
    lock.lock()
    defer { lock.unlock() }
    let out = losses
    losses.removeAll()
    return out
  }

  /// Stops watching a worker (it finished, or is known to be gone).
  func unwatch(identity: String) {
    lock.lock()
    lastSeen[identity] = nil
    names[identity] = nil
    lock.unlock()
  }

  func fail(_ text: String) {
    lock.lock()
    let first = failureText == nil
    if first { failureText = text }
    lock.unlock()
    if first {
      logger.error("\(text)")
      cancellation.cancel()
    }
  }

  var failure: String? {
    lock.lock()
    defer { lock.unlock() }
    return failureText
  }

  func stop() { stopFlag.cancel() }
}
