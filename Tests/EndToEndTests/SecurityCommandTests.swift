import DLP
import Foundation
import XCTest

/// The security surface of the executables: `dlp keygen`, a coordinator that will not listen
/// beyond loopback without keys (unless --insecure, which warns), key files checked before
/// anything starts, worker flags, timeout flags, and a batch size that used to trap.
final class SecurityCommandTests: XCTestCase {
  /// Starts `name args`, waits until a stdout line contains `needle` (or it exits), and
  /// returns what it printed; the process is then stopped.
  func waitForLine(_ name: String, _ args: [String], _ needle: String, timeout: Double = 60) throws
    -> (found: Bool, output: String)
  {
    let running = try Harness.start(name, args)
    let text = CapturedText()
    let seen = DispatchSemaphore(value: 0)
    running.out.fileHandleForReading.readabilityHandler = { h in
      let data = h.availableData
      if text.append(data, lookingFor: needle) || data.isEmpty { seen.signal() }
    }
    let found = seen.wait(timeout: .now() + timeout) == .success
    running.out.fileHandleForReading.readabilityHandler = nil
    if running.process.isRunning { running.process.terminate() }
    running.process.waitUntilExit()
    let err = String(
      decoding: running.err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    return (found && text.value.contains(needle), text.value + err)
  }

  func testKeygenWritesKeysAndKeepsThem() throws {
    let dir = Harness.folder() + "/keys"
    let r = try Harness.run("dlp", ["keygen", "--output-dir", dir, "--name", "coordinator"])
    XCTAssertEqual(r.status, 0, r.stderr)
    var info = stat()
    XCTAssertEqual(stat(dir + "/coordinator.key_secret", &info), 0)
    XCTAssertEqual(info.st_mode & 0o777, 0o600)
    let publicKey = try String(contentsOfFile: dir + "/coordinator.key", encoding: .utf8)
    XCTAssertEqual(publicKey.count, 41)
    XCTAssertTrue(r.stdout.contains(publicKey.trimmingCharacters(in: .newlines)))
    let again = try Harness.run("dlp", ["keygen", "--output-dir", dir, "--name", "coordinator"])
    XCTAssertNotEqual(again.status, 0)
    XCTAssertTrue(again.stderr.contains("--force"), again.stderr)
    XCTAssertEqual(try String(contentsOfFile: dir + "/coordinator.key", encoding: .utf8), publicKey)
  }

  func testACoordinatorBeyondLoopbackNeedsKeysOrInsecure() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let jobFlags = ["--dataset", job.csv, "--model", job.model, "--epochs", "1", "--quiet"]
    let port = Harness.freePort()
    let refused = try Harness.run(
      "dlp-coordinator", ["--bind", "tcp://0.0.0.0:\(port)", "--expect-workers", "1"] + jobFlags,
      timeout: 60)
    XCTAssertNotEqual(refused.status, 0)
    XCTAssertTrue(refused.stderr.contains("--curve-secret-key"), refused.stderr)
    XCTAssertTrue(refused.stderr.contains("--insecure"), refused.stderr)
    XCTAssertFalse(refused.stdout.contains("listening"), "it refused before anything started")

    let insecure = try waitForLine(
      "dlp-coordinator",
      ["--bind", "tcp://0.0.0.0:\(port)", "--expect-workers", "1", "--insecure"] + jobFlags,
      "listening")
    XCTAssertTrue(insecure.found, insecure.output)
    XCTAssertTrue(
      insecure.output.contains("warning") && insecure.output.contains("--insecure"), insecure.output
    )

    // With keys it starts (the keys are checked first).
    let keys = dir + "/keys"
    for name in ["coordinator", "worker-1"] {
      XCTAssertEqual(
        try Harness.run("dlp", ["keygen", "--output-dir", keys, "--name", name]).status, 0)
    }
    let authorized = dir + "/authorized"
    try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: keys + "/worker-1.key", toPath: authorized + "/worker-1.key")
    let secured = try waitForLine(
      "dlp-coordinator",
      [
        "--bind", "tcp://0.0.0.0:\(Harness.freePort())", "--expect-workers", "1",
        "--curve-secret-key", keys + "/coordinator.key_secret",
        "--authorized-keys", authorized,
      ] + jobFlags, "listening")
    XCTAssertTrue(secured.found, secured.output)
    chmod(keys + "/coordinator.key_secret", 0o644)
    let exposed = try Harness.run(
      "dlp-coordinator",
      [
        "--bind", "tcp://0.0.0.0:\(Harness.freePort())", "--expect-workers", "1",
        "--curve-secret-key", keys + "/coordinator.key_secret",
        "--authorized-keys", authorized,
      ] + jobFlags, timeout: 60)
    XCTAssertNotEqual(exposed.status, 0)
    XCTAssertTrue(
      exposed.stderr.contains("chmod 600 \(keys)/coordinator.key_secret"), exposed.stderr)
    let half = try Harness.run(
      "dlp-coordinator",
      [
        "--bind", "tcp://0.0.0.0:\(Harness.freePort())", "--expect-workers", "1",
        "--authorized-keys", authorized,
      ] + jobFlags, timeout: 60)
    XCTAssertNotEqual(half.status, 0)
    XCTAssertTrue(half.stderr.contains("--curve-secret-key"), half.stderr)
  }

  func testWorkerAndTimeoutFlagsAreChecked() throws {
    let remote = try Harness.run(
      "dlp-worker", ["--connect", "tcp://198.51.100.1:5555"], timeout: 30)
    XCTAssertNotEqual(remote.status, 0)
    XCTAssertTrue(
      remote.stderr.contains("--coordinator-key") && remote.stderr.contains("--insecure"),
      remote.stderr)
    let half = try Harness.run(
      "dlp-worker",
      ["--connect", "tcp://198.51.100.1:5555", "--coordinator-key", "/nonexistent.key"], timeout: 30
    )
    XCTAssertNotEqual(half.status, 0)
    XCTAssertTrue(half.stderr.contains("--curve-secret-key"), half.stderr)
    for bad in [
      ["--heartbeat-timeout", "0"], ["--heartbeat-timeout", "nan"], ["--collective-timeout", "-1"],
      ["--collective-timeout", "1e300"],
    ] {
      let r = try Harness.run(
        "dlp", ["train", "--preset", "mnist-mlp", "--samples", "10"] + bad, timeout: 30)
      XCTAssertNotEqual(r.status, 0, "\(bad)")
      XCTAssertTrue(r.stderr.contains(bad[0]), "\(bad): \(r.stderr)")
      let w = try Harness.run("dlp-worker", ["--connect", "tcp://127.0.0.1:1"] + bad, timeout: 30)
      XCTAssertNotEqual(w.status, 0, "\(bad)")
      XCTAssertTrue(w.stderr.contains(bad[0]), "\(bad): \(w.stderr)")
    }
  }

  func testABatchSizeOfIntMaxTrainsAsOneBatch() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 200)
    let flags = [
      "--dataset", job.csv, "--model", job.model, "--epochs", "1", "--seed", "3", "--quiet",
    ]
    let huge = try Harness.run(
      "dlp",
      ["train"] + flags + [
        "--batch-size", "9223372036854775807", "--save-weights", dir + "/huge.npz",
      ])
    XCTAssertEqual(huge.status, 0, huge.stderr)
    let whole = try Harness.run(
      "dlp", ["train"] + flags + ["--batch-size", "200", "--save-weights", dir + "/whole.npz"])
    XCTAssertEqual(whole.status, 0, whole.stderr)
    XCTAssertEqual(
      try Harness.maxRelativeDifference(dir + "/huge.npz", dir + "/whole.npz"), 0,
      "one batch of every row either way")
    let workers = try Harness.run(
      "dlp", ["train"] + flags + ["--batch-size", "9223372036854775807", "--workers", "2"])
    XCTAssertEqual(workers.status, 0, workers.stderr)
  }
}

/// Output collected from a reading thread.
final class CapturedText: @unchecked Sendable {
  private let lock = NSLock()
  private var text = ""

  /// Appends `data`; returns whether the text now contains `needle`.
  func append(_ data: Data, lookingFor needle: String) -> Bool {
    lock.lock()
    defer { lock.unlock() }
    text += String(decoding: data, as: UTF8.self)
    return text.contains(needle)
  }

  var value: String {
    lock.lock()
    defer { lock.unlock() }
    return text
  }
}

extension SecurityCommandTests {
  /// `dlp-worker --curve-keys-fd 3` reads the keys its parent wrote into an inherited pipe (the
  /// hand-off `dlp train --workers N` uses): a blob that is not credentials is refused, naming
  /// the format, before the worker connects anywhere.
  func testAWorkerReadsItsKeysFromAnInheritedPipe() throws {
    let exe = try Harness.binary("dlp-worker")
    var fds: [Int32] = [0, 0]
    XCTAssertEqual(pipe(&fds), 0)
    let err = Pipe()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[0], 3)
    posix_spawn_file_actions_adddup2(&actions, err.fileHandleForWriting.fileDescriptor, 2)
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let args = [
      exe, "--connect", "tcp://127.0.0.1:1", "--curve-keys-fd", "3", "--idle-timeout", "5",
    ]
    var cargs = args.map { strdup($0) } + [nil]
    defer { for a in cargs { free(a) } }
    var pid: pid_t = 0
    XCTAssertEqual(posix_spawn(&pid, exe, &actions, nil, &cargs, environ), 0)
    close(fds[0])
    let blob = Array("not credentials\n".utf8)
    _ = blob.withUnsafeBytes { write(fds[1], $0.baseAddress, $0.count) }
    close(fds[1])
    try err.fileHandleForWriting.close()
    let text = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    XCTAssertNotEqual(status, 0)
    XCTAssertTrue(text.contains("DLP-CURVE-1"), text)
  }
}
