import DLP
import DLPTransport
import XCTest

/// Failures and hostile input with real processes: a worker that dies, a worker that comes
/// late, garbage on the coordinator's port, bad flags and files.
final class FailureTests: XCTestCase {
  func testDeadWorkerStopsTheJobQuicklyWithNoOrphans() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 4000)
    let run = try Harness.start(
      "dlp", ["train", "--dataset", job.csv, "--model", job.model, "--epochs", "500", "--batch-size", "32", "--workers", "2", "--quiet"])
    let tag = "-\(run.process.processIdentifier)"
    // Wait until training runs, then kill worker 1.
    var victim: pid_t?
    let deadline = Date().addingTimeInterval(60)
    while victim == nil && Date() < deadline {
      victim = Harness.processes(matching: "local-1\(tag)").first
      usleep(100_000)
    }
    XCTAssertNotNil(victim, "worker 1 never started")
    sleep(2)
    kill(victim!, SIGKILL)
    let killed = Date()
    let result = run.wait(timeout: 15)
    XCTAssertNotNil(result, "the job did not stop after a worker died")
    XCTAssertLessThan(Date().timeIntervalSince(killed), 5, "took more than 5 s to notice")
    XCTAssertEqual(result?.status, 1)
    XCTAssertTrue(result?.stderr.contains("worker 1") == true, result?.stderr ?? "")
    usleep(300_000)
    XCTAssertEqual(Harness.processes(matching: tag), [], "orphan worker processes remain")
  }

  /// The coordinator for a multi-host job, with one worker, training long enough for the test.
  func startExternalJob(_ dir: String, epochs: Int) throws -> (Harness.Running, Harness.Running, String, (csv: String, model: String)) {
    // 125 steps an epoch: 2000 epochs run for several seconds even on a fast machine, so the
    // job is surely running when the test acts on it.
    let job = try Harness.makeJob(in: dir, rows: 4000)
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    let coordinator = try Harness.start(
      "dlp-coordinator",
      ["--bind", endpoint, "--expect-workers", "1", "--dataset", job.csv, "--model", job.model, "--epochs", String(epochs),
       "--batch-size", "32", "--quiet", "--report", "\(dir)/report.json"])
    let worker = try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "first", "--idle-timeout", "20"])
    return (coordinator, worker, endpoint, job)
  }

  func testLateWorkerIsToldTheJobStartedAndExits() throws {
    let dir = Harness.folder()
    let (coordinator, worker, endpoint, _) = try startExternalJob(dir, epochs: 2000)
    sleep(1)
    let late = try Harness.run("dlp-worker", ["--connect", endpoint, "--worker-id", "late"], timeout: 30)
    XCTAssertTrue(coordinator.process.isRunning, "the job ended before the late worker came; make it longer")
    XCTAssertNotEqual(late.status, 0)
    XCTAssertTrue(late.stderr.contains("already started"), late.stderr)
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, done?.stderr ?? "")
    XCTAssertEqual(worker.wait(timeout: 10)?.status, 0)
  }

  func testHostileMessagesAreRefusedAndTheJobFinishes() throws {
    let dir = Harness.folder()
    let (coordinator, worker, endpoint, _) = try startExternalJob(dir, epochs: 2000)
    sleep(1)
    let context = try ZMQContext()
    let codec = MessageCodec()
    for k in 0..<6 {
      let s = try ZMQSocket(context: context, kind: .dealer, options: .init(sendTimeout: 1, routingID: Array("hostile-\(k)".utf8)))
      try s.connect(endpoint)
      switch k {
      case 0: try s.send([UInt8](repeating: 0xFF, count: 64))  // garbage single frame
      case 1: try s.send(Array("not a header".utf8), more: true); try s.send([1, 2, 3])
      case 2:  // a well-formed metrics report from a peer nobody knows
        try codec.send(MetricsReportMessage(step: 1, lossSum: 1e9, sampleCount: 1_000_000), on: s, step: 1)
      case 3:  // a Hello from an older protocol
        try codec.send(HelloMessage(protocolVersion: 0, workerID: "old", hostname: "h", pid: 1, blasThreads: 1, datasetHash: 0, datasetName: "", ringEndpoint: "tcp://127.0.0.1:1"), on: s)
      case 4:  // a header whose payload size lies
        var h = codec.header(kind: .gradientChunk, step: 1, length: 1000)
        h.payloadBytes = 8
        try s.send(h.packed(), more: true); try s.send([], more: true); try s.send([UInt8](repeating: 0, count: 8))
      default:  // oversized junk
        try s.send([UInt8](repeating: 7, count: 200 << 20))
      }
      s.close(linger: 1)
    }
    XCTAssertTrue(coordinator.process.isRunning, "the job ended before the hostile messages; make it longer")
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, "coordinator: \(done?.stderr ?? "timed out")")
    XCTAssertEqual(worker.wait(timeout: 10)?.status, 0)
    let report = try Harness.report("\(dir)/report.json")
    XCTAssertEqual(report["history"]?["loss"]?.array?.count, 2000)
    XCTAssertTrue(done?.stderr.contains("refused") == true, "refusals are logged")
  }

  func testShippedDataNeedsNoCopyOnTheWorker() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 500)
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    let coordinator = try Harness.start(
      "dlp-coordinator",
      ["--bind", endpoint, "--expect-workers", "2", "--ship-data", "--dataset", job.csv, "--model", job.model, "--epochs", "2", "--quiet",
       "--report", "\(dir)/r.json"])
    // The workers run in a folder where the dataset path does not exist.
    let elsewhere = Harness.folder()
    let w = try (0..<2).map { try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "ship-\($0)"], cwd: elsewhere) }
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, done?.stderr ?? "")
    for p in w { XCTAssertEqual(p.wait(timeout: 10)?.status, 0) }
  }

  func testBadInputGivesClearErrors() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 50)
    let missing = try Harness.run("dlp", ["train", "--dataset", "\(dir)/nope.npz", "--preset", "mnist-mlp"])
    XCTAssertEqual(missing.status, 1)
    XCTAssertTrue(missing.stderr.contains("nope.npz"), missing.stderr)
    let mismatch = try Harness.run("dlp", ["train", "--dataset", job.csv, "--preset", "mnist-mlp"])
    XCTAssertEqual(mismatch.status, 1)
    XCTAssertTrue(mismatch.stderr.contains("[784]") && mismatch.stderr.contains("[6]"), mismatch.stderr)
    try "{\"class_name\": \"Sequential\", \"config\": {\"layers\": [{\"class_name\": \"InputLayer\", \"config\": {\"batch_shape\": [null, 4]}}, {\"class_name\": \"Transformer\", \"config\": {}}]}}".write(
      toFile: "\(dir)/bad.json", atomically: true, encoding: .utf8)
    let bad = try Harness.run("dlp", ["summary", "--model", "\(dir)/bad.json"])
    XCTAssertEqual(bad.status, 1)
    XCTAssertTrue(bad.stderr.contains("Transformer"), bad.stderr)
  }
}
