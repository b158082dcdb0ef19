import DLP
import Foundation
import XCTest

/// Jobs that survive: workers killed mid-epoch, a worker joining a running job, exact
/// checkpoints and resuming from them, a coordinator that dies. Failures are injected
/// (`DLP_FAULT_INJECT`: a process kills itself with SIGKILL at a given step or checkpoint), and
/// the tests wait for observable events (files, processes), never for fixed sleeps.
final class ElasticTests: XCTestCase {
  /// 2000 rows, batches of 32: 63 steps an epoch.
  static let stepsPerEpoch = 63

  func trainArgs(_ job: (csv: String, model: String), epochs: Int = 4) -> [String] {
    [
      "train", "--dataset", job.csv, "--model", job.model, "--epochs", String(epochs), "--batch-size", "32",
      "--optimizer", "sgd", "--learning-rate", "0.05", "--seed", "3", "--threads", "1", "--quiet",
    ]
  }

  func train(_ args: [String], environment: [String: String] = [:], timeout: Double = 120) throws -> Harness.Result {
    try Harness.run("dlp", args, timeout: timeout, environment: environment)
  }

  func testAWorkerKilledInAnyEpochLeavesTheInProcessWeights() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let reference = try train(trainArgs(job) + ["--save-weights", "\(dir)/ref.npz"])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    for epoch in 1...3 {
      let step = (epoch - 1) * Self.stepsPerEpoch + 20
      let r = try train(
        trainArgs(job) + [
          "--workers", "3", "--save-weights", "\(dir)/killed\(epoch).npz", "--report", "\(dir)/killed\(epoch).json",
        ], environment: ["DLP_FAULT_INJECT": "local-1-:train-step:\(step)"])
      XCTAssertEqual(r.status, 0, "killed in epoch \(epoch): \(r.stderr)")
      XCTAssertTrue(r.stderr.contains("fault injected"), r.stderr)
      let worst = try Harness.maxRelativeDifference("\(dir)/ref.npz", "\(dir)/killed\(epoch).npz")
      XCTAssertLessThan(worst, 1e-4, "killed in epoch \(epoch)")
      let elastic = try Harness.report("\(dir)/killed\(epoch).json")["elastic"]
      XCTAssertEqual(elastic?["workers_lost"]?.array?.count, 1, "\(String(describing: elastic))")
      XCTAssertEqual(elastic?["restarts"]?.int, 1)
      // The replacement joins when it has loaded its data before the job ends.
      XCTAssertLessThanOrEqual(elastic?["workers_joined"]?.array?.count ?? 0, 1)
    }
  }

  /// The same over the ring's plain tcp streams (unsecured): the dead worker's neighbours see
  /// its connections close, the step is redone by a new generation, nothing is lost.
  func testAWorkerKilledOverTheStreamRingLeavesTheInProcessWeights() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let reference = try train(trainArgs(job) + ["--save-weights", "\(dir)/ref.npz"])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    let r = try train(
      trainArgs(job) + [
        "--workers", "3", "--transport", "tcp", "--insecure", "--save-weights", "\(dir)/killed.npz",
        "--report", "\(dir)/killed.json",
      ], environment: ["DLP_FAULT_INJECT": "local-1-:train-step:\(Self.stepsPerEpoch + 20)"])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stderr.contains("fault injected"), r.stderr)
    XCTAssertLessThan(try Harness.maxRelativeDifference("\(dir)/ref.npz", "\(dir)/killed.npz"), 1e-4)
    let report = try Harness.report("\(dir)/killed.json")
    XCTAssertEqual(report["tcp_wire"]?.string, "stream")
    XCTAssertEqual(report["elastic"]?["workers_lost"]?.array?.count, 1, "\(String(describing: report["elastic"]))")
  }

  func testResumingFromACheckpointIsBitwiseTheUninterruptedRun() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let args = trainArgs(job, epochs: 3) + ["--checkpoint-every", "20"]
    let whole = try train(
      args + ["--checkpoint-dir", "\(dir)/whole", "--save-weights", "\(dir)/whole.npz", "--report", "\(dir)/whole.json"])
    XCTAssertEqual(whole.status, 0, whole.stderr)
    // Killed (SIGKILL) right after its fourth checkpoint, at step 40 of epoch 2.
    let cut = args + ["--checkpoint-dir", "\(dir)/cut", "--save-weights", "\(dir)/cut.npz", "--report", "\(dir)/cut.json"]
    let killed = try train(cut, environment: ["DLP_FAULT_INJECT": "coordinator:checkpoint:4"])
    XCTAssertNotEqual(killed.status, 0)
    XCTAssertFalse(FileManager.default.fileExists(atPath: "\(dir)/cut.npz"))
    let resumed = try train(cut + ["--resume", "\(dir)/cut"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertEqual(try Harness.maxRelativeDifference("\(dir)/whole.npz", "\(dir)/cut.npz"), 0, "not bitwise")
    let a = try Harness.report("\(dir)/whole.json")
    let b = try Harness.report("\(dir)/cut.json")
    XCTAssertEqual(a["history"], b["history"], "the history continues where it was")
    XCTAssertNotNil(b["resumed_from"]?.string)
    XCTAssertLessThanOrEqual(Harness.files(in: "\(dir)/cut", endingWith: ".dlpckpt").count, 3, "only the newest 3 are kept")
  }

  func testACoordinatorKilledAfterACheckpointResumesOnWorkers() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let args = trainArgs(job, epochs: 3) + ["--workers", "2"]
    let whole = try train(args + ["--save-weights", "\(dir)/whole.npz"])
    XCTAssertEqual(whole.status, 0, whole.stderr)
    let cut = args + ["--checkpoint-dir", "\(dir)/cut", "--save-weights", "\(dir)/cut.npz"]
    let run = try Harness.start("dlp", cut, environment: ["DLP_FAULT_INJECT": "coordinator:checkpoint:1"])
    let tag = "-\(run.process.processIdentifier)"
    let killed = run.wait(timeout: 120)
    XCTAssertNotNil(killed)
    XCTAssertNotEqual(killed?.status, 0)
    let died = Date()
    XCTAssertTrue(Harness.waitUntil(timeout: 45) { Harness.processes(matching: tag).isEmpty }, "workers outlived their coordinator")
    print("workers gone \(Date().timeIntervalSince(died)) s after their coordinator")
    let resumed = try train(cut + ["--resume", "\(dir)/cut"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertLessThan(try Harness.maxRelativeDifference("\(dir)/whole.npz", "\(dir)/cut.npz"), 1e-6)
  }

  func testATornCheckpointIsSkippedAndOtherFlagsAreRefused() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 500)
    let args = trainArgs(job, epochs: 2) + ["--checkpoint-dir", "\(dir)/ck", "--checkpoint-every", "5"]
    XCTAssertEqual(try train(args).status, 0)
    let files = Harness.files(in: "\(dir)/ck", endingWith: ".dlpckpt")
    XCTAssertEqual(files.count, 3)
    // Tear the newest in half.
    let newest = "\(dir)/ck/\(files.last!)"
    let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
    try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))
    let resumed = try train(args + ["--resume", "\(dir)/ck", "--report", "\(dir)/r.json"])
    XCTAssertEqual(resumed.status, 0, resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("skipping \(files.last!)"), resumed.stderr)
    XCTAssertTrue(resumed.stderr.contains("checksum"), resumed.stderr)
    XCTAssertEqual(try Harness.report("\(dir)/r.json")["history"]?["loss"]?.array?.count, 2)
    var other = args + ["--resume", "\(dir)/ck"]
    other[other.firstIndex(of: "--batch-size")! + 1] = "16"
    let refused = try train(other)
    XCTAssertEqual(refused.status, 1)
    XCTAssertTrue(refused.stderr.contains("--batch-size is '16' now"), refused.stderr)
  }

  func testTooFewWorkersStopTheJobWithACheckpoint() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let r = try train(
      trainArgs(job) + [
        "--workers", "2", "--min-workers", "2", "--max-restarts", "0", "--rejoin-timeout", "1", "--checkpoint-dir",
        "\(dir)/ck",
      ], environment: ["DLP_FAULT_INJECT": "local-1-:train-step:80"])
    XCTAssertEqual(r.status, 1, r.stderr)
    XCTAssertTrue(r.stderr.contains("--min-workers 2"), r.stderr)
    XCTAssertFalse(Harness.files(in: "\(dir)/ck", endingWith: ".dlpckpt").isEmpty, "no checkpoint left behind")
  }

  /// Worker b dies; c connects and joins at a step boundary. Worker a holds (fault injection)
  /// at a later step until c has loaded its data, so the join surely happens mid-job.
  func testAWorkerJoinsARunningJob() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let reference = try train(trainArgs(job, epochs: 6) + ["--save-weights", "\(dir)/ref.npz"])
    XCTAssertEqual(reference.status, 0, reference.stderr)
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    var coordinatorArgs = Array(trainArgs(job, epochs: 6).dropFirst())
    coordinatorArgs += [
      "--bind", endpoint, "--expect-workers", "2", "--save-weights", "\(dir)/joined.npz", "--report", "\(dir)/r.json",
      "--heartbeat-timeout", "2",
    ]
    let coordinator = try Harness.start("dlp-coordinator", coordinatorArgs)
    let a = try Harness.start(
      "dlp-worker", ["--connect", endpoint, "--worker-id", "a"],
      environment: ["DLP_FAULT_INJECT": "a:hold-at-step:150", "DLP_FAULT_GATE": "\(dir)/go"])
    XCTAssertTrue(coordinator.waitForError(containing: "(a, pid", timeout: 60), "a was not admitted")
    let b = try Harness.start(
      "dlp-worker", ["--connect", endpoint, "--worker-id", "b"], environment: ["DLP_FAULT_INJECT": "b:train-step:30"])
    XCTAssertNotNil(b.wait(timeout: 60), "worker b did not die")
    let c = try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "c"])
    XCTAssertTrue(coordinator.waitForError(containing: "(c, pid", timeout: 60), "c was not admitted")
    XCTAssertTrue(coordinator.waitForError(containing: "is ready to join", timeout: 60), "c did not get ready")
    FileManager.default.createFile(atPath: "\(dir)/go", contents: nil)
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, done?.stderr ?? "timed out")
    XCTAssertEqual(a.wait(timeout: 10)?.status, 0)
    XCTAssertEqual(c.wait(timeout: 10)?.status, 0)
    let elastic = try Harness.report("\(dir)/r.json")["elastic"]
    XCTAssertTrue(
      elastic?["workers_joined"]?.array?.contains { $0.string?.contains("(c,") == true } == true, "\(String(describing: elastic))")
    XCTAssertLessThan(try Harness.maxRelativeDifference("\(dir)/ref.npz", "\(dir)/joined.npz"), 1e-4)
  }

  func testWorkersLeaveWhenTheirCoordinatorIsGone() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 2000)
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    var coordinatorArgs = Array(trainArgs(job, epochs: 50).dropFirst())
    coordinatorArgs += [
      "--bind", endpoint, "--expect-workers", "1", "--heartbeat-timeout", "1", "--checkpoint-dir", "\(dir)/ck",
    ]
    let coordinator = try Harness.start(
      "dlp-coordinator", coordinatorArgs, environment: ["DLP_FAULT_INJECT": "coordinator:checkpoint:1"])
    let worker = try Harness.start("dlp-worker", ["--connect", endpoint, "--worker-id", "orphan"])
    XCTAssertNotNil(coordinator.wait(timeout: 60))
    let died = Date()
    let left = worker.wait(timeout: 30)
    XCTAssertNotNil(left, "the worker outlived its coordinator")
    XCTAssertNotEqual(left?.status, 0)
    XCTAssertTrue(left?.stderr.contains("silent") == true, left?.stderr ?? "")
    XCTAssertLessThan(Date().timeIntervalSince(died), 10)
  }
}
