import DLP
import Foundation
import XCTest

/// `dlp bench allreduce` with real rank processes: ring and central, tcp and ipc, sizes that
/// split unevenly into shards and chunks, the report's figures, loud failure on a wrong sum or a
/// dead rank, and no orphan rank processes after success, failure or Ctrl-C.
final class BenchCommandTests: XCTestCase {
  /// Starts `dlp ARGS` with extra environment variables; stdout and stderr go to files (a
  /// pipe nobody reads could fill up and stall the process).
  func start(_ args: [String], env: [String: String] = [:]) throws -> (
    Process, out: String, err: String
  ) {
    let dir = Harness.folder()
    let out = dir + "/stdout.txt"
    let err = dir + "/stderr.txt"
    _ = FileManager.default.createFile(atPath: out, contents: nil)
    _ = FileManager.default.createFile(atPath: err, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try Harness.binary("dlp"))
    p.arguments = args
    p.environment = ProcessInfo.processInfo.environment.merging(env) { $1 }
    p.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: out))
    p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: err))
    try p.run()
    return (p, out, err)
  }

  /// Waits up to `timeout` seconds; kills the process (and fails) if it is still running.
  func wait(_ p: Process, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(20_000) }
    if p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
      XCTFail("dlp \(p.arguments?.joined(separator: " ") ?? "") did not finish in \(timeout) s")
      return false
    }
    return true
  }

  func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

  /// Runs `dlp bench allreduce ARGS`; returns the exit status, stderr and the parent's pid.
  func bench(_ args: [String], env: [String: String] = [:], timeout: Double = 120) throws -> (
    status: Int32, stdout: String, stderr: String, pid: pid_t
  ) {
    let (p, out, err) = try start(["bench", "allreduce"] + args, env: env)
    guard wait(p, timeout: timeout) else { throw CocoaError(.executableLoad) }
    return (p.terminationStatus, text(out), text(err), p.processIdentifier)
  }

  /// Rank processes started by the `dlp` whose pid is `parent` (their worker id names it).
  func ranks(of parent: pid_t) -> [pid_t] { Harness.processes(matching: "bench-\(parent)-") }

  func assertNoOrphans(_ parent: pid_t, file: StaticString = #filePath, line: UInt = #line) {
    var left = ranks(of: parent)
    let deadline = Date().addingTimeInterval(3)
    while !left.isEmpty && Date() < deadline {
      usleep(50_000)
      left = ranks(of: parent)
    }
    XCTAssertEqual(left, [], "orphan rank processes of dlp pid \(parent)", file: file, line: line)
  }

  func testRingAndCentralSumAcrossProcesses() throws {
    let dir = Harness.folder()
    // (workers, collective, transport, --bytes, bytes): 4004 B is 1001 floats, which splits
    // unevenly into 3 shards and into 1 KiB chunks.
    let cases: [(Int, String, String, String, Int)] = [
      (2, "ring", "tcp", "64KiB", 65536),
      (3, "ring", "tcp", "4004", 4004),
      (3, "central", "tcp", "40KB", 40000),
      (2, "central", "ipc", "1600000", 1_600_000),
      (3, "ring", "ipc", "0.1MB", 100_000),
      (1, "ring", "tcp", "4KB", 4000),
      (2, "ring", "shm", "1600000", 1_600_000),
      (3, "ring", "shm", "4004", 4004),
      (4, "ring", "shm", "1MiB", 1 << 20),
    ]
    for (workers, collective, transport, size, bytes) in cases {
      let label = "\(workers) workers, \(collective) over \(transport), \(size)"
      let report = "\(dir)/\(workers)-\(collective)-\(transport).json"
      let r = try bench([
        "--workers", String(workers), "--bytes", size, "--iterations", "5", "--warmup", "2",
        "--allreduce", collective, "--transport", transport, "--chunk-bytes", "1KiB", "--report",
        report,
      ])
      XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
      XCTAssertTrue(r.stdout.contains("median"), "\(label): \(r.stdout)")
      let json = try Harness.report(report)
      XCTAssertEqual(json["workers"]?.int, workers, label)
      XCTAssertEqual(json["bytes"]?.int, bytes, label)
      XCTAssertEqual(json["collective"]?.string, collective, label)
      XCTAssertEqual(json["transport"]?.string, transport, label)
      XCTAssertEqual(json["iterations"]?.int, 5, label)
      XCTAssertEqual(json["verified"]?.bool, true, label)
      let times = json["iteration_seconds"]?.array?.compactMap(\.double) ?? []
      XCTAssertEqual(times.count, 5, label)
      XCTAssertEqual(json["rank_median_seconds"]?.array?.count, workers, label)
      let median = try XCTUnwrap(json["median_seconds"]?.double, label)
      let minimum = try XCTUnwrap(json["min_seconds"]?.double, label)
      XCTAssertGreaterThan(median, 0, label)
      XCTAssertLessThanOrEqual(minimum, median, label)
      XCTAssertEqual(minimum, times.min() ?? -1, label)
      XCTAssertEqual(median, times.sorted()[2], label)
      let bus = try XCTUnwrap(json["bus_gbps"]?.double, label)
      let expected =
        workers > 1 ? 2 * Double(workers - 1) / Double(workers) * Double(bytes) / median / 1e9 : 0
      XCTAssertEqual(bus, expected, accuracy: 1e-9 * max(1, expected), label)
      assertNoOrphans(r.pid)
    }
    // No ipc socket files are left behind.
    let tmp = try FileManager.default.contentsOfDirectory(atPath: NSTemporaryDirectory())
    let stale = tmp.filter { $0.hasPrefix("dlp-bench-") }
    XCTAssertEqual(stale, [], "ipc socket files left in \(NSTemporaryDirectory())")
  }

  /// Without --transport the ranks talk as `dlp train`'s workers on one host do (auto): the
  /// ring through shared memory, central over tcp; the report and the line say which ran.
  func testTransportDefaultsToAutoAsTrainDoes() throws {
    let dir = Harness.folder()
    for (workers, collective, ran) in [(2, "ring", "shm"), (2, "central", "tcp"), (1, "ring", "tcp")] {
      let label = "\(workers) workers, \(collective)"
      let report = "\(dir)/auto-\(workers)-\(collective).json"
      let r = try bench([
        "--workers", String(workers), "--bytes", "64KiB", "--iterations", "3", "--warmup", "1", "--allreduce",
        collective, "--report", report,
      ])
      XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
      XCTAssertTrue(r.stdout.contains("all-reduce \(collective) over \(ran) (auto),"), "\(label): \(r.stdout)")
      let json = try Harness.report(report)
      XCTAssertEqual(json["transport"]?.string, ran, label)
      XCTAssertEqual(json["transport_requested"]?.string, "auto", label)
      XCTAssertEqual(json["verified"]?.bool, true, label)
      assertNoOrphans(r.pid)
    }
    // An explicit transport is what runs, and what the report says was asked.
    let report = "\(dir)/tcp.json"
    let r = try bench(["--workers", "2", "--bytes", "64KiB", "--iterations", "3", "--transport", "tcp", "--report", report])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("all-reduce ring over tcp, 2 workers"), r.stdout)
    let json = try Harness.report(report)
    XCTAssertEqual(json["transport"]?.string, "tcp")
    XCTAssertEqual(json["transport_requested"]?.string, "tcp")
    // Unencrypted, the ring over tcp runs on plain streams; --tcp-wire zmq (or --curve) on ZeroMQ.
    XCTAssertTrue(r.stdout.contains(", stream wire"), r.stdout)
    XCTAssertEqual(json["tcp_wire"]?.string, "stream")
    // Each rank on a CPU of its own when the host has one per rank (as mpirun binds).
    let cpus = try String(contentsOfFile: "/proc/self/status", encoding: .utf8).split(separator: "\n")
      .first { $0.hasPrefix("Cpus_allowed_list:") }
    let many = ProcessInfo.processInfo.activeProcessorCount >= 2
    XCTAssertEqual(json["cpu_binding"]?.string, many ? "core" : "none", "\(String(describing: cpus))")
    let unbound = "\(dir)/unbound.json"
    let u = try bench(["--workers", "2", "--bytes", "64KiB", "--iterations", "3", "--transport", "tcp", "--bind-cpus", "none", "--report", unbound])
    XCTAssertEqual(u.status, 0, u.stderr)
    XCTAssertEqual(try Harness.report(unbound)["cpu_binding"]?.string, "none")
    for (flags, wire) in [(["--tcp-wire", "zmq"], "zmq"), (["--curve"], "zmq"), (["--workers", "3"], "stream")] {
      let path = "\(dir)/wire-\(wire)-\(flags.count).json"
      let w = try bench(["--workers", "2", "--bytes", "64KiB", "--iterations", "3", "--transport", "tcp", "--report", path] + flags)
      XCTAssertEqual(w.status, 0, "\(flags): \(w.stderr)")
      let j = try Harness.report(path)
      XCTAssertEqual(j["tcp_wire"]?.string, wire, "\(flags)")
      XCTAssertEqual(j["verified"]?.bool, true, "\(flags)")
    }
  }

  func testBadArgumentsAreRefused() throws {
    let cases: [([String], String)] = [
      (["--workers", "2", "--bytes", "12XB"], "cannot read the size '12XB'"),
      (["--workers", "2", "--bytes", "1001"], "multiple of 4"),
      (["--workers", "0", "--bytes", "4KB"], "--workers"),
      (["--workers", "2", "--bytes", "4KB", "--allreduce", "tree"], "central or ring"),
      (["--workers", "2", "--bytes", "4KB", "--transport", "udp"], "auto, tcp, ipc or shm"),
      (["--workers", "2", "--bytes", "4KB", "--transport", "shm", "--allreduce", "central"], "use --allreduce ring"),
      (["--workers", "2", "--bytes", "4KB", "--iterations", "0"], "--iterations"),
      (["--workers", "2", "--bytes", "4KB", "--transport", "tcp", "--tcp-wire", "udp"], "auto, stream or zmq"),
      (["--workers", "2", "--bytes", "4KB", "--bind-cpus", "0-1"], "auto or none"),
      (["--workers", "2", "--bytes", "4KB", "--transport", "tcp", "--tcp-wire", "stream", "--curve"], "no encryption"),
    ]
    for (args, message) in cases {
      let r = try bench(args, timeout: 30)
      XCTAssertNotEqual(r.status, 0, "\(args) was accepted")
      XCTAssertTrue(r.stderr.contains(message), "\(args): expected '\(message)' in: \(r.stderr)")
      assertNoOrphans(r.pid)
    }
  }

  func testWrongSumFailsLoudly() throws {
    let dir = Harness.folder()
    let report = dir + "/report.json"
    for (collective, transport) in [("ring", "tcp"), ("central", "tcp"), ("ring", "shm")] {
      let r = try bench(
        [
          "--workers", "2", "--bytes", "4KB", "--iterations", "5", "--warmup", "2", "--allreduce",
          collective, "--transport", transport,
          "--report", report,
        ], env: ["DLP_BENCH_SPOIL_RANK": "1"], timeout: 60)
      XCTAssertEqual(r.status, 1, "\(collective): a wrong sum was not reported: \(r.stdout)")
      XCTAssertTrue(
        r.stderr.contains("rank 1, iteration 2: element 500 of the all-reduced buffer is"),
        "\(collective): \(r.stderr)")
      XCTAssertFalse(FileManager.default.fileExists(atPath: report), "a failed run wrote a report")
      assertNoOrphans(r.pid)
    }
  }

  /// Starts a run long enough to act on, and waits until its ranks are up.
  func startLongRun() throws -> (Process, err: String, ranks: [pid_t]) {
    let (p, _, err) = try start([
      "bench", "allreduce", "--workers", "2", "--bytes", "64KB", "--iterations", "1000000",
      "--warmup", "0",
    ])
    var found: [pid_t] = []
    let deadline = Date().addingTimeInterval(30)
    while found.count < 2 && Date() < deadline && p.isRunning {
      usleep(50_000)
      found = ranks(of: p.processIdentifier)
    }
    XCTAssertEqual(found.count, 2, "the ranks did not start: \(text(err))")
    sleep(1)  // let the iterations run
    XCTAssertTrue(p.isRunning, "the long run ended early: \(text(err))")
    return (p, err, found)
  }

  func testDeadRankStopsTheRunQuicklyWithNoOrphans() throws {
    let (p, err, pids) = try startLongRun()
    let victim = try XCTUnwrap(Harness.processes(matching: "bench-\(p.processIdentifier)-1").first)
    XCTAssertTrue(pids.contains(victim))
    kill(victim, SIGKILL)
    let killed = Date()
    guard wait(p, timeout: 15) else { return }
    XCTAssertLessThan(
      Date().timeIntervalSince(killed), 5, "took more than 5 s to notice the dead rank")
    XCTAssertEqual(p.terminationStatus, 1)
    XCTAssertTrue(text(err).contains("rank 1 (pid \(victim)) was killed by signal 9"), text(err))
    assertNoOrphans(p.processIdentifier)
  }

  func testCtrlCLeavesNoOrphans() throws {
    let (p, _, _) = try startLongRun()
    kill(p.processIdentifier, SIGINT)
    guard wait(p, timeout: 10) else { return }
    XCTAssertNotEqual(p.terminationStatus, 0)
    assertNoOrphans(p.processIdentifier)
  }

  func testParentKilledTakesTheRanksWithIt() throws {
    let (p, _, _) = try startLongRun()
    kill(p.processIdentifier, SIGKILL)  // no handler runs: the ranks notice their parent is gone
    p.waitUntilExit()
    assertNoOrphans(p.processIdentifier)
  }
}
