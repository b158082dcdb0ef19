import DLP
import DLPTestSupport
import DLPTransport
import Foundation
import XCTest

/// Thousands of hostile messages (the seeded `MessageFuzzer`: real messages of every kind,
/// mutated as a broken or hostile peer would) fired at a running `dlp-coordinator`'s control
/// port and its heartbeat port while two `dlp-worker` processes train: the job completes, and
/// its weights are those of the same job undisturbed. Both workers hold at a training step
/// (fault injection) until the coordinator has counted a thousand refusals, so the burst lands
/// mid-training, whatever the machine's speed.
final class HostileTrafficDuringTrainingTests: XCTestCase {
  static let holdStep = 8

  /// The coordinator and two workers; `hold`: the workers wait at `holdStep` until `gate` exists.
  func startJob(_ dir: String, job: (csv: String, model: String), tag: String, hold: String?) throws
    -> (coordinator: Harness.Running, workers: [Harness.Running], endpoint: String)
  {
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    let coordinator = try Harness.start(
      "dlp-coordinator",
      [
        "--bind", endpoint, "--expect-workers", "2", "--dataset", job.csv, "--model", job.model,
        "--epochs", "2",
        "--batch-size", "32", "--seed", "9", "--quiet", "--save-weights", "\(dir)/\(tag).npz",
      ], errorLog: "\(dir)/\(tag)-coordinator.log")
    var environment: [String: String] = [:]
    if let hold {
      environment = [
        "DLP_FAULT_INJECT": "hw-:hold-at-step:\(Self.holdStep)", "DLP_FAULT_GATE": hold,
      ]
    }
    let workers = try (0..<2).map {
      try Harness.start(
        "dlp-worker", ["--connect", endpoint, "--worker-id", "hw-\($0)"], environment: environment)
    }
    return (coordinator, workers, endpoint)
  }

  func finish(
    _ job: (coordinator: Harness.Running, workers: [Harness.Running], endpoint: String), log: String
  ) {
    let done = job.coordinator.wait(timeout: 120)
    let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
    XCTAssertEqual(done?.status, 0, "coordinator: \(text.suffix(4000))")
    for w in job.workers {
      let r = w.wait(timeout: 30)
      XCTAssertEqual(r?.status, 0, r?.stderr ?? "a worker did not finish")
    }
  }

  func testThousandsOfHostileMessagesLeaveTheWeightsUndisturbed() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 1000)
    finish(
      try startJob(dir, job: job, tag: "undisturbed", hold: nil),
      log: "\(dir)/undisturbed-coordinator.log")

    let gate = "\(dir)/gate"
    let running = try startJob(dir, job: job, tag: "hostile", hold: gate)
    defer { FileManager.default.createFile(atPath: gate, contents: nil) }
    for (k, w) in running.workers.enumerated() {
      XCTAssertTrue(
        w.waitForError(containing: "holds at training step \(Self.holdStep)", timeout: 60),
        "worker \(k) did not reach the hold")
    }
    let heartbeatPorts = Harness.listeningPorts(of: running.coordinator.process.processIdentifier)
      .filter { "tcp://127.0.0.1:\($0)" != running.endpoint }
    XCTAssertEqual(
      heartbeatPorts.count, 1,
      "expected the coordinator to listen on its control and heartbeat ports only")

    let seed = ProcessInfo.processInfo.environment["DLP_FUZZ_SEED"].flatMap(UInt64.init) ?? 31_337
    var fuzzer = MessageFuzzer(seed: seed)
    let context = try ZMQContext()
    var sent = 0
    for (target, port) in [("control", Int(running.endpoint.split(separator: ":").last!)!)]
      + heartbeatPorts.map({ ("heartbeat", $0) })
    {
      sent += try fire(
        3000, from: &fuzzer, at: "tcp://127.0.0.1:\(port)", tag: target, context: context)
    }
    XCTAssertGreaterThan(sent, 5000, "most hostile messages should have been sent")
    // A stranger whose Hello is valid and who vanishes at once: the job may admit it as a spare
    // (CURVE is off), and must not end when the Welcome cannot be delivered.
    for k in 0..<3 {
      let s = try ZMQSocket(
        context: context, kind: .dealer,
        options: .init(sendTimeout: 1, routingID: Array("vanisher-\(k)".utf8)))
      try s.connect(running.endpoint)
      try MessageCodec().send(
        HelloMessage(
          protocolVersion: DLPProtocol.version, workerID: "vanisher-\(k)", hostname: "nowhere",
          pid: 1), on: s)
      s.close(linger: 0.2)
    }

    let log = "\(dir)/hostile-coordinator.log"
    // The coordinator logs its first refusals one by one, then one line per thousand.
    let handled = Harness.waitUntil(timeout: 60) {
      ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").contains("1000 refusals so far")
    }
    XCTAssertTrue(handled, "the coordinator did not log the refusals while the workers held")
    XCTAssertTrue(running.coordinator.process.isRunning, "the hostile messages ended the job")
    FileManager.default.createFile(atPath: gate, contents: nil)
    finish(running, log: log)
    // Hostile worker ids and host names are full of newlines: none may start a log line.
    let lines = ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n")
    let forged = lines.filter {
      $0.range(of: #"^\d{4}-\d\d-\d\dT"#, options: .regularExpression) == nil
    }
    XCTAssertEqual(forged.count, 0, "lines the coordinator did not write: \(forged.prefix(3))")
    // Thousands of refusals, a few dozen lines: a stranger cannot fill the coordinator's disk.
    let refusalLines = lines.filter { $0.contains("refused") }.count
    XCTAssertLessThan(refusalLines, 100, "one log line per refused message")
    XCTAssertTrue(lines.contains { $0.contains("(vanisher-0") }, "the vanishing stranger's Hello was not handled")
    XCTAssertLessThanOrEqual(
      try Harness.maxRelativeDifference("\(dir)/hostile.npz", "\(dir)/undisturbed.npz"), 1e-6)
  }

  /// Sends `count` fuzzed cases to `endpoint` from 8 DEALERs; returns how many went out.
  func fire(
    _ count: Int, from fuzzer: inout MessageFuzzer, at endpoint: String, tag: String,
    context: ZMQContext
  ) throws -> Int {
    let sockets = try (0..<8).map { k in
      let s = try ZMQSocket(
        context: context, kind: .dealer,
        options: .init(sendTimeout: 1, routingID: Array("\(tag)-hostile-\(k)".utf8)))
      try s.connect(endpoint)
      return s
    }
    defer { for s in sockets { s.close(linger: 1) } }
    var sent = 0
    for i in 0..<count {
      var frames = fuzzer.nextCase().frames
      if frames.isEmpty { frames = [[]] }
      do {
        for (k, f) in frames.enumerated() {
          try sockets[i % sockets.count].send(f, more: k < frames.count - 1)
        }
        sent += 1
      } catch {
        continue  // a full queue (the peer was dropped for an oversized frame and reconnects)
      }
    }
    return sent
  }
}

extension Harness {
  /// The TCP ports process `pid` listens on (Linux: its socket inodes in /proc/PID/fd matched
  /// against the LISTEN entries of /proc/net/tcp).
  static func listeningPorts(of pid: pid_t) -> [Int] {
    let fds = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/fd")) ?? []
    let inodes = Set(
      fds.compactMap { fd -> String? in
        guard
          let target = try? FileManager.default.destinationOfSymbolicLink(
            atPath: "/proc/\(pid)/fd/\(fd)"),
          target.hasPrefix("socket:[")
        else { return nil }
        return String(target.dropFirst(8).dropLast())
      })
    let table = (try? String(contentsOfFile: "/proc/\(pid)/net/tcp", encoding: .utf8)) ?? ""
    return table.split(separator: "\n").dropFirst().compactMap { line in
      let f = line.split(separator: " ")
      guard f.count > 9, f[3] == "0A", inodes.contains(String(f[9])),
        let port = f[1].split(separator: ":").last
      else {
        return nil
      }
      return Int(port, radix: 16)
    }.sorted()
  }
}
