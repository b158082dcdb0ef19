import DLP
import Foundation
import XCTest

/// A multi-host job on one machine: the coordinator and two workers each in their own network
/// namespace (their own interfaces, addresses and loopback, as on separate hosts), joined by
/// veth pairs to a bridge that lives in a fourth namespace, on the private test subnet
/// 10.231.0.0/24. Nothing touches the root namespace's network. With `--ship-data`, the
/// workers advertising their own namespace address for the ring, both collectives must give the
/// weights of in-process training.
///
/// Needs root (skipped otherwise) and `ip` from iproute2 (installed with apt-get when missing);
/// skipped, saying what failed, when this sandbox does not permit creating namespaces or veth
/// links. Namespaces get unique names per run and are always deleted in tearDown.
final class NetworkNamespaceTests: XCTestCase {
  /// Unique per run: namespace names are global to the machine.
  let runID = "dlpt\(getpid() % 100_000)\(UInt16.random(in: 0...UInt16.max))"
  var namespaces: [String] = []
  var processes: [Process] = []

  var bridgeNamespace: String { "\(runID)-sw" }
  func namespace(_ node: String) -> String { "\(runID)-\(node)" }

  static let coordinatorAddress = "10.231.0.1"

  override func tearDown() {
    for p in processes where p.isRunning {
      kill(p.processIdentifier, SIGKILL)
      p.waitUntilExit()
    }
    processes = []
    // Deleting a namespace deletes its veth ends (and so their peers); any process still in one
    // is killed first so nothing lingers there.
    for ns in namespaces.reversed() {
      let pids = ip(["netns", "pids", ns]).output.split(whereSeparator: \.isNewline).compactMap {
        Int32($0)
      }
      for pid in pids { kill(pid, SIGKILL) }
      let r = ip(["netns", "del", ns])
      if r.status != 0 { XCTFail("could not delete network namespace \(ns): \(r.output)") }
    }
    namespaces = []
    super.tearDown()
  }

  // MARK: Shell helpers

  /// Runs a program to completion; returns its status and its stdout+stderr.
  @discardableResult
  func run(_ path: String, _ args: [String]) -> (status: Int32, output: String) {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: path)
    p.arguments = args
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    do { try p.run() } catch { return (-1, "cannot run \(path): \(error)") }
    // Read while it runs, so a chatty program cannot fill the pipe and stall.
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    p.waitUntilExit()
    return (p.terminationStatus, String(decoding: data, as: UTF8.self))
  }

  var ipPath: String? {
    ["/usr/sbin/ip", "/sbin/ip", "/usr/bin/ip", "/bin/ip"].first {
      FileManager.default.isExecutableFile(atPath: $0)
    }
  }

  func ip(_ args: [String]) -> (status: Int32, output: String) {
    guard let path = ipPath else { return (-1, "ip not found") }
    return run(path, args)
  }

  /// `ip ARGS`, failing the test (with the command and its output) when it fails.
  func mustIP(_ args: [String]) throws {
    let r = ip(args)
    guard r.status == 0 else {
      XCTFail("`ip \(args.joined(separator: " "))` failed (status \(r.status)): \(r.output)")
      throw CocoaError(.featureUnsupported)
    }
  }

  /// Installs iproute2 with apt-get when `ip` is missing.
  func ensureIP() throws {
    if ipPath != nil { return }
    let env = "/usr/bin/env"
    var r = run(
      env, ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "iproute2"])
    if ipPath == nil {
      _ = run(env, ["apt-get", "update", "-qq"])
      r = run(
        env, ["DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y", "-qq", "iproute2"])
    }
    guard ipPath != nil else {
      XCTFail(
        "`ip` is missing and `apt-get install -y iproute2` failed (status \(r.status)): \(r.output)"
      )
      throw CocoaError(.featureUnsupported)
    }
  }

  // MARK: The network

  /// Creates the bridge namespace and one namespace per node, each with `eth0` at
  /// 10.231.0.(i+1)/24 on the bridge. Skips when namespaces or veth links cannot be created here.
  func makeNetwork(nodes: [String]) throws -> [String: String] {
    guard geteuid() == 0 else {
      throw XCTSkip("network namespaces need root; this test runs as uid \(geteuid())")
    }
    try ensureIP()
    // Permission probes: the first namespace and the first veth pair.
    let add = ip(["netns", "add", bridgeNamespace])
    guard add.status == 0 else {
      throw XCTSkip(
        "this sandbox does not permit network namespaces: `ip netns add \(bridgeNamespace)` failed (status \(add.status)): \(add.output)"
      )
    }
    namespaces.append(bridgeNamespace)
    try mustIP(["-n", bridgeNamespace, "link", "add", "br0", "type", "bridge"])
    try mustIP(["-n", bridgeNamespace, "link", "set", "br0", "up"])
    var addresses: [String: String] = [:]
    for (i, node) in nodes.enumerated() {
      let ns = namespace(node)
      let r = ip(["netns", "add", ns])
      guard r.status == 0 else {
        throw XCTSkip(
          "this sandbox does not permit network namespaces: `ip netns add \(ns)` failed: \(r.output)"
        )
      }
      namespaces.append(ns)
      let port = "p\(i)"
      let veth = ip([
        "-n", bridgeNamespace, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns",
        ns,
      ])
      guard veth.status == 0 else {
        throw XCTSkip(
          "this sandbox does not permit veth links: `ip -n \(bridgeNamespace) link add \(port) type veth peer name eth0 netns \(ns)` failed: \(veth.output)"
        )
      }
      try mustIP(["-n", bridgeNamespace, "link", "set", port, "master", "br0"])
      try mustIP(["-n", bridgeNamespace, "link", "set", port, "up"])
      let address = "10.231.0.\(i + 1)"
      try mustIP(["-n", ns, "addr", "add", "\(address)/24", "dev", "eth0"])
      try mustIP(["-n", ns, "link", "set", "eth0", "up"])
      try mustIP(["-n", ns, "link", "set", "lo", "up"])
      addresses[node] = address
    }
    return addresses
  }

  /// Starts `ip netns exec NS BINARY ARGS` with stdout and stderr in `log`.
  func startIn(_ ns: String, _ binary: String, _ args: [String], log: String) throws -> Process {
    _ = FileManager.default.createFile(atPath: log, contents: nil)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: ipPath!)
    p.arguments = ["netns", "exec", ns, try Harness.binary(binary)] + args
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
    p.standardOutput = handle
    p.standardError = handle
    p.standardInput = FileHandle.nullDevice
    try p.run()
    processes.append(p)
    return p
  }

  func wait(_ p: Process, timeout: Double) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while p.isRunning && Date() < deadline { usleep(50_000) }
    return !p.isRunning
  }

  func text(_ path: String) -> String { (try? String(contentsOfFile: path, encoding: .utf8)) ?? "" }

  // MARK: The test

  func testCoordinatorAndWorkersInSeparateNamespacesMatchInProcessTraining() throws {
    let addresses = try makeNetwork(nodes: ["c", "w1", "w2"])
    XCTAssertEqual(addresses["c"], Self.coordinatorAddress)
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let jobFlags = [
      "--dataset", job.csv, "--model", job.model, "--epochs", "2", "--batch-size", "64", "--seed",
      "5",
      "--validation-split", "0.2", "--quiet",
    ]
    let reference = "\(dir)/reference.npz"
    let r = try Harness.run("dlp", ["train"] + jobFlags + ["--save-weights", reference])
    XCTAssertEqual(r.status, 0, r.stderr)

    for (k, collective) in ["ring", "central"].enumerated() {
      let endpoint = "tcp://\(Self.coordinatorAddress):\(29_500 + k)"
      let weights = "\(dir)/\(collective).npz"
      let report = "\(dir)/\(collective).json"
      let coordinatorLog = "\(dir)/coordinator-\(collective).log"
      let coordinator = try startIn(
        namespace("c"), "dlp-coordinator",
        ["--bind", endpoint, "--expect-workers", "2", "--ship-data", "--allreduce", collective, "--insecure"]
          + jobFlags + [
            "--save-weights", weights, "--report", report,
          ], log: coordinatorLog)
      var workers: [(Process, String)] = []
      for w in ["w1", "w2"] {
        let log = "\(dir)/\(w)-\(collective).log"
        // No --advertise: each worker must find its own namespace address (the route to the
        // coordinator) for its ring listener; 127.0.0.1 would not reach the other namespace.
        let p = try startIn(
          namespace(w), "dlp-worker",
          ["--connect", endpoint, "--worker-id", "\(w)-\(runID)", "--idle-timeout", "60", "--insecure"], log: log)
        workers.append((p, log))
      }
      let logs = { () -> String in
        "coordinator:\n\(self.text(coordinatorLog))\n"
          + workers.map { "worker:\n\(self.text($0.1))" }.joined(separator: "\n")
      }
      guard wait(coordinator, timeout: 300) else {
        XCTFail("\(collective): the coordinator did not finish in 300 s\n\(logs())")
        return
      }
      XCTAssertEqual(coordinator.terminationStatus, 0, "\(collective): \(logs())")
      for (p, _) in workers {
        // terminationStatus traps on a running process: read it only once it has exited.
        guard wait(p, timeout: 30) else {
          XCTFail("\(collective): a worker did not exit after the job\n\(logs())")
          continue
        }
        XCTAssertEqual(p.terminationStatus, 0, "\(collective): \(logs())")
      }
      guard coordinator.terminationStatus == 0 else { continue }
      XCTAssertEqual(try Harness.report(report)["workers"]?.int, 2)
      let diff = try Harness.maxRelativeDifference(reference, weights)
      XCTAssertLessThan(diff, 1e-4, "\(collective) across namespaces: weights differ by \(diff)")
    }
  }
}
