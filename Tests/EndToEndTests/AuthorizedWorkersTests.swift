import DLP
import DLPTransport
import Foundation
import XCTest

/// Keys end to end with real processes: a `dlp-coordinator` with a CURVE secret key and a folder
/// of authorized worker keys refuses a rogue speaking the protocol in clear, a `dlp-worker` with
/// a key it does not know and a `dlp-worker` without keys; the authorized worker then trains the
/// job to the loss of in-process training. Each step waits for the signal that the previous one
/// happened (a handshake failure, a log line, an exit), never for time to pass.
final class AuthorizedWorkersTests: XCTestCase {
  /// `dlp keygen` into `dir`; returns the public key's Z85.
  func keygen(_ dir: String, _ name: String) throws -> String {
    let r = try Harness.run("dlp", ["keygen", "--output-dir", dir, "--name", name])
    XCTAssertEqual(r.status, 0, r.stderr)
    return try String(contentsOfFile: "\(dir)/\(name).key", encoding: .utf8).trimmingCharacters(
      in: .whitespacesAndNewlines)
  }

  func testOnlyTheAuthorizedWorkerIsAdmittedAndTrainsTheJob() throws {
    let dir = Harness.folder()
    let keys = dir + "/keys"
    let authorized = dir + "/authorized"
    try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
    _ = try keygen(keys, "coordinator")
    _ = try keygen(keys, "worker-1")
    let strangerKey = try keygen(keys, "stranger")
    try FileManager.default.copyItem(
      atPath: keys + "/worker-1.key", toPath: authorized + "/worker-1.key")

    let job = try Harness.makeJob(in: dir, rows: 500)
    let flags = [
      "--dataset", job.csv, "--model", job.model, "--epochs", "2", "--batch-size", "32", "--seed",
      "5", "--quiet",
    ]
    let endpoint = "tcp://127.0.0.1:\(Harness.freePort())"
    let coordinator = try Harness.start(
      "dlp-coordinator",
      [
        "--bind", endpoint, "--expect-workers", "1", "--curve-secret-key",
        keys + "/coordinator.key_secret",
        "--authorized-keys", authorized, "--report", dir + "/secured.json",
      ] + flags)
    defer { if coordinator.process.isRunning { coordinator.process.terminate() } }

    // (a) A rogue that speaks the protocol in clear: a DEALER sending a real Hello. Its
    // handshake fails (the coordinator's socket speaks CURVE only) and nothing comes back.
    let context = try ZMQContext()
    let rogue = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(sendTimeout: 1, routingID: Array("rogue".utf8)))
    let monitor = try HandshakeMonitor(socket: rogue)
    defer {
      monitor.close()
      rogue.close(linger: 0)
    }
    try rogue.connect(endpoint)
    try MessageCodec().send(
      HelloMessage(
        protocolVersion: DLPProtocol.version, workerID: "rogue", hostname: "rogue-host", pid: 4242,
        blasThreads: 1,
        datasetHash: 0, datasetName: "", ringEndpoint: "", hostIdentity: "rogue"),
      on: rogue)
    var rogueRefused = false
    let deadline = Date().addingTimeInterval(60)
    while !rogueRefused && Date() < deadline {
      rogueRefused = try monitor.poll(timeout: 0.5).contains { $0.isFailure }
    }
    XCTAssertTrue(rogueRefused, "the plain-text rogue's handshake did not fail: \(monitor.events)")

    // (b) A worker with a key pair the coordinator does not know: refused by the ZAP handler
    // (logged with its address and key), and told so at once.
    let stranger = try Harness.run(
      "dlp-worker",
      [
        "--connect", endpoint, "--worker-id", "stranger", "--curve-secret-key",
        keys + "/stranger.key_secret",
        "--coordinator-key", keys + "/coordinator.key", "--idle-timeout", "60",
      ], timeout: 60)
    XCTAssertNotEqual(stranger.status, 0)
    XCTAssertTrue(stranger.stderr.contains("refused this process's CURVE key"), stranger.stderr)
    XCTAssertTrue(
      coordinator.waitForError(
        containing: "with CURVE key \(strangerKey): the key is not among the authorized keys",
        timeout: 30),
      "the coordinator did not log the stranger's refusal")

    // (c) A worker without keys: refused at the handshake, and says why instead of waiting
    // out its idle timeout.
    let plain = try Harness.run(
      "dlp-worker",
      ["--connect", endpoint, "--worker-id", "plain", "--insecure", "--idle-timeout", "60"],
      timeout: 60)
    XCTAssertNotEqual(plain.status, 0)
    XCTAssertTrue(plain.stderr.contains("one side uses CURVE and the other does not"), plain.stderr)
    XCTAssertFalse(
      plain.stderr.contains("sent no job within"), "it waited out its idle timeout: \(plain.stderr)"
    )
    XCTAssertTrue(coordinator.process.isRunning, "the refusals ended the coordinator")

    // (d) The authorized worker is admitted and trains the job.
    let worker = try Harness.start(
      "dlp-worker",
      [
        "--connect", endpoint, "--worker-id", "worker-1", "--curve-secret-key",
        keys + "/worker-1.key_secret",
        "--coordinator-key", keys + "/coordinator.key",
      ])
    let done = coordinator.wait(timeout: 120)
    XCTAssertEqual(done?.status, 0, done?.stderr ?? "the coordinator did not finish")
    XCTAssertEqual(worker.wait(timeout: 30)?.status, 0)
    XCTAssertTrue(done?.stderr.contains("(worker-1, pid") == true, done?.stderr ?? "")
    XCTAssertFalse(
      done?.stderr.contains("(rogue") == true || done?.stderr.contains("(stranger") == true,
      "a refused peer joined")

    // The rogue never received anything: no Welcome, no JobSpec, through the whole job.
    XCTAssertFalse(try rogue.waitReadable(timeout: 0), "the rogue received a message")
    XCTAssertFalse(
      monitor.events.contains { if case .succeeded = $0 { return true } else { return false } })

    let reference = try Harness.run("dlp", ["train", "--report", dir + "/alone.json"] + flags)
    XCTAssertEqual(reference.status, 0, reference.stderr)
    let secured =
      try Harness.report(dir + "/secured.json")["history"]?["loss"]?.array?.compactMap(\.double)
      ?? []
    let alone =
      try Harness.report(dir + "/alone.json")["history"]?["loss"]?.array?.compactMap(\.double) ?? []
    XCTAssertEqual(secured.count, 2)
    XCTAssertEqual(alone.count, 2)
    for (a, b) in zip(secured, alone) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
  }
}
