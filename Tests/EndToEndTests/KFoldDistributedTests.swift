import DLP
import Foundation
import XCTest

/// `dlp kfold --workers N` with real worker processes: the same folds and per-fold scores as
/// the in-process sweep whatever the worker count, a worker killed mid-sweep loses no fold, and
/// the report has the in-process keys.
final class KFoldDistributedTests: XCTestCase {
  /// Iterated K-fold, P = 3 x K = 4, on the harness's CSV (1001 rows: folds of 250, one
  /// leftover row) with its model (Dropout, L2): 12 tasks.
  func kfold(
    _ dir: String, _ job: (csv: String, model: String), workers: Int, tag: String,
    epochs: Int = 3, repeats: Int = 3, extra: [String] = []
  ) throws -> (report: JSONValue, result: Harness.Result) {
    let report = "\(dir)/\(tag).json"
    let r = try Harness.run(
      "dlp",
      [
        "kfold", "--dataset", job.csv, "--model", job.model, "--folds", "4", "--repeats",
        String(repeats), "--epochs", String(epochs), "--batch-size", "32", "--seed", "9", "--workers",
        String(workers), "--report", report,
      ] + extra, timeout: 300)
    XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
    return (try Harness.report(report), r)
  }

  func keys(_ v: JSONValue?) -> Set<String> { Set(v?.object?.keys.map { $0 } ?? []) }

  func numbers(_ v: JSONValue?) -> [Double] { v?.array?.map { $0.double ?? .nan } ?? [] }

  /// Every fold's history and evaluation, and the summary, agree to 1e-9.
  func assertSameFolds(
    _ a: JSONValue, _ b: JSONValue, _ what: String, tasks: Int = 12, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    let fa = a["folds"]?.array ?? []
    let fb = b["folds"]?.array ?? []
    XCTAssertEqual(fa.count, tasks, what, file: file, line: line)
    XCTAssertEqual(fa.count, fb.count, what, file: file, line: line)
    for (x, y) in zip(fa, fb) {
      let which = "\(what): repeat \(x["repeat"]?.int ?? -1) fold \(x["fold"]?.int ?? -1)"
      XCTAssertEqual(x["repeat"], y["repeat"], which, file: file, line: line)
      XCTAssertEqual(x["fold"], y["fold"], which, file: file, line: line)
      let ex = x["evaluation"]?.object ?? [:]
      let ey = y["evaluation"]?.object ?? [:]
      XCTAssertEqual(Set(ex.keys), Set(ey.keys), which, file: file, line: line)
      XCTAssertFalse(ex.isEmpty, which, file: file, line: line)
      for (k, v) in ex {
        XCTAssertEqual(
          v.double ?? .nan, ey[k]?.double ?? .infinity, accuracy: 1e-9, "\(which) \(k)",
          file: file, line: line)
      }
      let hx = x["history"]?.object ?? [:]
      let hy = y["history"]?.object ?? [:]
      XCTAssertEqual(Set(hx.keys), Set(hy.keys), which, file: file, line: line)
      for (k, v) in hx {
        let p = numbers(v)
        let q = numbers(hy[k])
        XCTAssertEqual(p.count, q.count, "\(which) \(k)", file: file, line: line)
        for (s, t) in zip(p, q) {
          XCTAssertEqual(s, t, accuracy: 1e-9, "\(which) history \(k)", file: file, line: line)
        }
      }
    }
    for key in ["mean", "std"] {
      let ma = a[key]?.object ?? [:]
      let mb = b[key]?.object ?? [:]
      XCTAssertEqual(Set(ma.keys), Set(mb.keys), "\(what) \(key)", file: file, line: line)
      for (k, v) in ma {
        XCTAssertEqual(
          v.double ?? .nan, mb[k]?.double ?? .infinity, accuracy: 1e-9, "\(what) \(key) \(k)",
          file: file, line: line)
      }
    }
  }

  func testIteratedKFoldOnWorkersGivesTheInProcessResults() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let reference = try kfold(dir, job, workers: 0, tag: "inprocess").report
    let two = try kfold(dir, job, workers: 2, tag: "two").report
    assertSameFolds(reference, two, "2 workers")
    XCTAssertEqual(two["workers"]?.int, 2)
    // Three workers, with the data shipped instead of loaded: the same again.
    let three = try kfold(dir, job, workers: 3, tag: "three", extra: ["--ship-data"]).report
    assertSameFolds(reference, three, "3 workers, shipped data")
    XCTAssertEqual(three["workers"]?.int, 3)
  }

  func testAWorkerKilledMidSweepLosesNoFold() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 4000)
    let epochs = 30
    let reference = try kfold(dir, job, workers: 0, tag: "inprocess", epochs: epochs, repeats: 2).report
    let report = "\(dir)/killed.json"
    // Worker 1 dies (SIGKILL, by fault injection) holding its second task.
    let run = try Harness.start(
      "dlp",
      [
        "kfold", "--dataset", job.csv, "--model", job.model, "--folds", "4", "--repeats", "2",
        "--epochs", String(epochs), "--batch-size", "32", "--seed", "9", "--workers", "2",
        "--report", report,
      ], environment: ["DLP_FAULT_INJECT": "local-1-:task:2"])
    let tag = "-\(run.process.processIdentifier)"
    let result = run.wait(timeout: 120)
    XCTAssertEqual(result?.status, 0, result?.stderr ?? "did not finish")
    let stderr = result?.stderr ?? ""
    XCTAssertTrue(stderr.contains("was killed by signal 9"), stderr)
    XCTAssertTrue(stderr.contains("goes back on the queue"), "the victim's task was not requeued: \(stderr)")
    let killed = try Harness.report(report)
    assertSameFolds(reference, killed, "a worker killed", tasks: 8)
    XCTAssertEqual(killed["workers"]?.int, 2)
    XCTAssertEqual(Harness.processes(matching: tag), [], "orphan worker processes remain")
  }

  func testTheReportHasTheInProcessKeys() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 200)
    let (reference, _) = try kfold(dir, job, workers: 0, tag: "inprocess", epochs: 2)
    let (report, run) = try kfold(dir, job, workers: 2, tag: "two", epochs: 2)
    XCTAssertEqual(keys(report), keys(reference))
    XCTAssertEqual(
      keys(report),
      ["folds", "mean", "std", "mean_history", "train_seconds", "samples_per_second", "workers"])
    XCTAssertEqual(report["workers"]?.int, 2)
    XCTAssertGreaterThan(report["train_seconds"]?.double ?? 0, 0)
    XCTAssertGreaterThan(report["samples_per_second"]?.double ?? 0, 0)
    for fold in report["folds"]?.array ?? [] {
      XCTAssertEqual(keys(fold), ["repeat", "fold", "history", "evaluation"])
    }
    XCTAssertEqual(
      keys(report["mean_history"]),
      ["loss", "accuracy", "val_loss", "val_accuracy"])
    XCTAssertEqual(keys(report["mean"]), ["loss", "accuracy"])
    // One progress line per fold, as in-process.
    XCTAssertEqual(
      run.stdout.components(separatedBy: "\n").filter {
        $0.contains("fold ") && $0.contains("val_")
      }.count, 12, run.stdout)
  }

  /// Every fold's history and evaluation within `relative` (of the larger magnitude, at least
  /// 1e-3) of the reference's.
  func assertCloseFolds(
    _ a: JSONValue, _ b: JSONValue, relative: Double, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    func close(_ x: Double, _ y: Double) -> Bool {
      abs(x - y) <= relative * max(abs(x), abs(y), 1e-3)
    }
    let fa = a["folds"]?.array ?? []
    let fb = b["folds"]?.array ?? []
    XCTAssertEqual(fa.count, 12, what, file: file, line: line)
    XCTAssertEqual(fa.count, fb.count, what, file: file, line: line)
    for (x, y) in zip(fa, fb) {
      let which = "\(what): repeat \(x["repeat"]?.int ?? -1) fold \(x["fold"]?.int ?? -1)"
      XCTAssertEqual(x["repeat"], y["repeat"], which, file: file, line: line)
      XCTAssertEqual(x["fold"], y["fold"], which, file: file, line: line)
      for part in ["evaluation", "history"] {
        let px = x[part]?.object ?? [:]
        let py = y[part]?.object ?? [:]
        XCTAssertEqual(Set(px.keys), Set(py.keys), "\(which) \(part)", file: file, line: line)
        XCTAssertFalse(px.isEmpty, "\(which) \(part)", file: file, line: line)
        for (k, v) in px {
          let p = v.array == nil ? [v.double ?? .nan] : numbers(v)
          let q = py[k]?.array == nil ? [py[k]?.double ?? .infinity] : numbers(py[k])
          XCTAssertEqual(p.count, q.count, "\(which) \(part) \(k)", file: file, line: line)
          for (s, t) in zip(p, q) {
            XCTAssertTrue(
              close(s, t), "\(which) \(part) \(k): \(s) vs \(t)", file: file, line: line)
          }
        }
      }
    }
  }

  /// `--group-size 2`: each task trains data-parallel on two workers. The same folds and
  /// scores as in-process up to float summation order (a batch's gradient is the sum of two
  /// shard sums, not one; Adam and the metrics carry that last-bit difference): within 1e-4
  /// relative after 3 epochs. Whatever the worker count, a group of 2 sums the same way, so 4
  /// workers (two groups) and 2 workers (one) agree exactly.
  func testGroupsOfTwoWorkersGiveTheInProcessResults() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let reference = try kfold(dir, job, workers: 0, tag: "inprocess").report
    let (four, run) = try kfold(
      dir, job, workers: 4, tag: "four", extra: ["--group-size", "2"])
    assertCloseFolds(reference, four, relative: 1e-4, "4 workers in groups of 2")
    XCTAssertEqual(four["workers"]?.int, 4)
    XCTAssertEqual(four["group_size"]?.int, 2)
    XCTAssertTrue(run.stdout.contains("on 4 workers in groups of 2"), run.stdout)
    let two = try kfold(
      dir, job, workers: 2, tag: "two", extra: ["--group-size", "2", "--ship-data"]
    ).report
    assertSameFolds(four, two, "2 workers in a group of 2")
    // Unsecured, the groups' rings run on plain tcp streams: the same sums, the same folds.
    let (plain, plainRun) = try kfold(
      dir, job, workers: 4, tag: "four-insecure", extra: ["--group-size", "2", "--insecure"])
    XCTAssertTrue(plainRun.stderr.contains("ring over plain tcp streams"), plainRun.stderr)
    XCTAssertTrue(run.stderr.contains("ring over ZeroMQ"), run.stderr)
    assertSameFolds(four, plain, "4 workers in groups of 2 over streams")
  }

  /// A group member killed mid-task: its group's task goes back on the queue, the survivor gives
  /// it up when its ring times out and joins a new group, and the sweep ends with every fold,
  /// the same as an undisturbed sweep in groups of 2.
  func testAGroupMemberKilledMidSweepLosesNoFold() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 4000)
    let epochs = 10
    let args = [
      "kfold", "--dataset", job.csv, "--model", job.model, "--folds", "4", "--repeats", "3",
      "--epochs", String(epochs), "--batch-size", "32", "--seed", "9", "--group-size", "2",
      "--collective-timeout", "3",
    ]
    let reference = try kfold(
      dir, job, workers: 2, tag: "undisturbed", epochs: epochs, extra: ["--group-size", "2"]
    ).report
    let report = "\(dir)/killed.json"
    // Worker 1 dies (SIGKILL, by fault injection) on receiving its second task: its partner
    // waits in the group's ring until the collective timeout, then gives the task up.
    let run = try Harness.start(
      "dlp", args + ["--workers", "4", "--report", report], environment: ["DLP_FAULT_INJECT": "local-1-:task:2"])
    let tag = "-\(run.process.processIdentifier)"
    let result = run.wait(timeout: 180)
    XCTAssertEqual(result?.status, 0, result?.stderr ?? "did not finish")
    let stderr = result?.stderr ?? ""
    XCTAssertTrue(stderr.contains("was killed by signal 9"), stderr)
    XCTAssertTrue(stderr.contains("goes back on the queue"), "the victim's task was not requeued: \(stderr)")
    let killed = try Harness.report(report)
    assertSameFolds(reference, killed, "a group member killed")
    XCTAssertEqual(Harness.processes(matching: tag), [], "orphan worker processes remain")
  }

  func testBadGroupSizesAreRefusedClearly() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 100)
    for (workers, group) in [(2, 3), (0, 2)] {
      let r = try Harness.run(
        "dlp",
        [
          "kfold", "--dataset", job.csv, "--model", job.model, "--folds", "2", "--workers",
          String(workers), "--group-size", String(group),
        ])
      XCTAssertEqual(r.status, 1, r.stderr)
      XCTAssertTrue(r.stderr.contains("--group-size \(group)"), r.stderr)
      XCTAssertTrue(r.stderr.contains("N >= \(group)"), r.stderr)
    }
  }
}
