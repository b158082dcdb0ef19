import DLP
import DLPTransport
import XCTest

/// Failures and hostile input with real processes: a worker that dies, a worker that comes
/// late, garbage on the coordinator's port, bad flags and files.
final class FailureTests: XCTestCase {
  /// The coordinator for a multi-host job, with one worker, training long enough for the test;
  /// returns once its first checkpoint is on disk (training is surely running).
  func startExternalJob(_ dir: String, epochs: Int) throws -> (Harness.Running, Harness.Running, String, (csv: String, model: String)) {
    let job = try Harness.makeJob(in: dir, rows: 4000)
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    let coordinator = try Harness.start(
      "dlp-coordinator",
      ["--bind", endpoint, "--expect-workers", "1", "--dataset", job.csv, "--model", job.model, "--epochs", String(epochs),
       "--batch-size", "32", "--quiet", "--report", "\(dir)/report.json", "--checkpoint-dir", "\(dir)/ckpt"])
    let worker = try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "first"])
    XCTAssertTrue(
      Harness.waitUntil(timeout: 60) { !Harness.files(in: "\(dir)/ckpt", endingWith: ".dlpckpt").isEmpty },
      "the job wrote no checkpoint")
    return (coordinator, worker, endpoint, job)
  }

  /// A worker that comes when the job has its workers stands by as a spare until the job ends;
  /// the job's result is the undisturbed one.
  func testALateWorkerStandsByAndTheJobIsUndisturbed() throws {
    let dir = Harness.folder()
    let (coordinator, worker, endpoint, job) = try startExternalJob(dir, epochs: 300)
    let late = try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "late"])
    XCTAssertTrue(coordinator.process.isRunning, "the job ended before the late worker came; make it longer")
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, done?.stderr ?? "")
    XCTAssertEqual(worker.wait(timeout: 10)?.status, 0)
    XCTAssertEqual(late.wait(timeout: 10)?.status, 0)
    let reference = try Harness.run(
      "dlp",
      ["train", "--dataset", job.csv, "--model", job.model, "--epochs", "300", "--batch-size", "32", "--quiet",
       "--threads", "1", "--report", "\(dir)/alone.json"])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    let a = try Harness.report("\(dir)/report.json")["history"]?["loss"]?.array?.compactMap(\.double) ?? []
    let b = try Harness.report("\(dir)/alone.json")["history"]?["loss"]?.array?.compactMap(\.double) ?? []
    XCTAssertEqual(a.count, 300)
    for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(y))) }
  }

  func testHostileMessagesAreRefusedAndTheJobFinishes() throws {
    let dir = Harness.folder()
    let (coordinator, worker, endpoint, _) = try startExternalJob(dir, epochs: 300)
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
    XCTAssertEqual(report["history"]?["loss"]?.array?.count, 300)
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
