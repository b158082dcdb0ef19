import DLP
import Foundation
import XCTest

/// Host names across hosts: the coordinator and one worker share a network namespace, a second
/// worker has its own, and everyone (the coordinator's bind included) uses the host name
/// `dlp-head`, which only the namespaces' own hosts files know (`ip netns exec` bind-mounts
/// /etc/netns/NS/hosts over /etc/hosts). The ring runs over tcp (`--transport tcp`), so each
/// worker's listener must be bound and advertised on the address that routes to the
/// coordinator, found from the name; the weights must be those of `dlp train --workers 2`.
extension NetworkNamespaceTests {
  /// Writes /etc/netns/NS/hosts for each namespace; returns the folders to remove.
  func writeHostsFiles(_ entries: [String: String], namespaces: [String]) throws -> [String] {
    var made: [String] = []
    for ns in namespaces {
      let dir = "/etc/netns/\(ns)"
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      made.append(dir)
      let lines =
        ["127.0.0.1 localhost"] + entries.sorted(by: { $0.key < $1.key }).map { "\($1) \($0)" }
      try (lines.joined(separator: "\n") + "\n").write(
        toFile: dir + "/hosts", atomically: true, encoding: .utf8)
    }
    return made
  }

  func testWorkersReachTheCoordinatorByHostNameAcrossNamespaces() throws {
    let addresses = try makeNetwork(nodes: ["c", "w2"])
    let head = "dlp-head"
    let hostDirs = try writeHostsFiles(
      [head: addresses["c"]!, "dlp-node2": addresses["w2"]!],
      namespaces: [namespace("c"), namespace("w2")])
    defer { for d in hostDirs { try? FileManager.default.removeItem(atPath: d) } }
    // The name is unknown outside the namespaces: the workers cannot have used an IP literal.
    XCTAssertNotEqual(
      run("/usr/bin/getent", ["hosts", head]).status, 0,
      "\(head) resolves outside the test namespaces")

    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let jobFlags = [
      "--dataset", job.csv, "--model", job.model, "--epochs", "2", "--batch-size", "64", "--seed",
      "5",
      "--validation-split", "0.2", "--quiet", "--transport", "tcp",
    ]
    let reference = "\(dir)/reference.npz"
    let r = try Harness.run(
      "dlp", ["train"] + jobFlags + ["--workers", "2", "--save-weights", reference])
    XCTAssertEqual(r.status, 0, r.stderr)

    let endpoint = "tcp://\(head):29510"
    let weights = "\(dir)/by-name.npz"
    let report = "\(dir)/by-name.json"
    let coordinatorLog = "\(dir)/coordinator.log"
    // The bind names the host too (as the Slurm script binds its NodeAddr); beyond loopback
    // without keys it needs --insecure until the job's sockets use CURVE.
    let coordinator = try startIn(
      namespace("c"), "dlp-coordinator",
      ["--bind", endpoint, "--expect-workers", "2", "--insecure"] + jobFlags + [
        "--save-weights", weights, "--report", report,
      ],
      log: coordinatorLog)
    var workers: [(Process, String)] = []
    for (w, ns) in [("w1", namespace("c")), ("w2", namespace("w2"))] {
      let log = "\(dir)/\(w).log"
      let p = try startIn(
        ns, "dlp-worker",
        [
          "--connect", endpoint, "--worker-id", "\(w)-\(runID)", "--idle-timeout", "60",
          "--insecure",
        ], log: log)
      workers.append((p, log))
    }
    let logs = { () -> String in
      "coordinator:\n\(self.text(coordinatorLog))\n"
        + workers.map { "worker:\n\(self.text($0.1))" }.joined(separator: "\n")
    }
    guard wait(coordinator, timeout: 300) else {
      XCTFail("the coordinator did not finish in 300 s\n\(logs())")
      return
    }
    XCTAssertEqual(coordinator.terminationStatus, 0, logs())
    for (p, _) in workers {
      guard wait(p, timeout: 30) else {
        XCTFail("a worker did not exit after the job\n\(logs())")
        continue
      }
      XCTAssertEqual(p.terminationStatus, 0, logs())
    }
    guard coordinator.terminationStatus == 0 else { return }
    let json = try Harness.report(report)
    XCTAssertEqual(json["workers"]?.int, 2)
    XCTAssertEqual(json["allreduce"]?.string, "ring/tcp")
    let diff = try Harness.maxRelativeDifference(reference, weights)
    XCTAssertLessThan(
      diff, 1e-4,
      "by host name across namespaces: weights differ from dlp train --workers 2 by \(diff)")
  }
}
