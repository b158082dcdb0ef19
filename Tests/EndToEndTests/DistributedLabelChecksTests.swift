import DLP
import Foundation
import XCTest

/// Bad labels on workers: a label of 3 on a 3-class model, a huge one (1e8) and NaN used to
/// train to a negative loss, crash a worker with SIGSEGV and with SIGILL. Each worker now checks
/// its data as in-process training does, before the first step: the job exits non-zero with an
/// error naming the label, and no process dies of a signal.
final class DistributedLabelChecksTests: XCTestCase {
  /// The labels, as written in the CSV, and as the error message prints them.
  let badLabels: [(csv: String, printed: String)] = [
    ("3", "label 3.0 at index"), ("100000000", "label \(Float(1e8)) at index"),
    ("nan", "label nan at index"),
  ]

  /// The harness's 3-class job with `label` in place of row 37's label.
  func jobWithLabel(_ label: String, in dir: String) throws -> (csv: String, model: String) {
    let job = try Harness.makeJob(in: dir, rows: 120)
    var lines = try String(contentsOfFile: job.csv, encoding: .utf8).split(separator: "\n").map(
      String.init)
    var cells = lines[1 + 37].split(separator: ",").map(String.init)
    cells[cells.count - 1] = label
    lines[1 + 37] = cells.joined(separator: ",")
    try lines.joined(separator: "\n").write(toFile: job.csv, atomically: true, encoding: .utf8)
    return job
  }

  /// Waits for `running` and checks it exited (not killed by a signal) with a non-zero status.
  func assertExitedWithError(
    _ running: Harness.Running, _ what: String, file: StaticString = #filePath, line: UInt = #line
  ) -> String {
    guard let r = running.wait(timeout: 120) else {
      XCTFail("\(what) did not finish", file: file, line: line)
      return ""
    }
    XCTAssertEqual(
      running.process.terminationReason, .exit, "\(what) died of signal \(r.status): \(r.stderr)",
      file: file, line: line)
    XCTAssertNotEqual(r.status, 0, "\(what) succeeded: \(r.stderr)", file: file, line: line)
    return r.stderr
  }

  func testBadLabelsEndATwoWorkerJobWithAnErrorNamingThem() throws {
    for (label, printed) in badLabels {
      let dir = Harness.folder()
      let job = try jobWithLabel(label, in: dir)
      let train = try Harness.start(
        "dlp",
        [
          "train", "--dataset", job.csv, "--model", job.model, "--epochs", "1", "--quiet",
          "--workers", "2",
        ])
      let stderr = assertExitedWithError(train, "dlp train --workers 2 with label \(label)")
      XCTAssertTrue(stderr.contains(printed), "label \(label): \(stderr)")
      XCTAssertFalse(
        stderr.contains("signal"), "label \(label): a worker died of a signal: \(stderr)")
    }
  }

  /// The same through dlp-coordinator and two dlp-worker processes, the data shipped: every
  /// worker refuses the shipped labels and exits with the error, as does the coordinator.
  func testBadLabelsShippedToWorkersEndTheJobWithAnErrorNamingThem() throws {
    for (label, printed) in badLabels {
      let dir = Harness.folder()
      let job = try jobWithLabel(label, in: dir)
      let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
      let coordinator = try Harness.start(
        "dlp-coordinator",
        [
          "--bind", endpoint, "--expect-workers", "2", "--ship-data", "--dataset", job.csv,
          "--model", job.model, "--epochs", "1", "--quiet",
        ])
      let elsewhere = Harness.folder()
      let workers = try (0..<2).map {
        try Harness.start(
          "dlp-worker", ["--connect", endpoint, "--worker-id", "label-\($0)"], cwd: elsewhere)
      }
      let stderr = assertExitedWithError(coordinator, "dlp-coordinator with label \(label)")
      XCTAssertTrue(stderr.contains(printed), "label \(label): \(stderr)")
      for (k, w) in workers.enumerated() {
        let text = assertExitedWithError(w, "dlp-worker \(k) with label \(label)")
        XCTAssertTrue(text.contains(printed), "worker \(k), label \(label): \(text)")
      }
    }
  }
}
