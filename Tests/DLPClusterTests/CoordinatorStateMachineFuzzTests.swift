import DLP
import DLPTestSupport
import DLPTransport
import Foundation
import XCTest

@testable import DLPCluster

/// The training coordinator's state machine (admission, generations, step reports, commits,
/// joins, losses) fed fuzzed messages of every kind while it runs a real job: from its one
/// member (a `PuppetWorker` that otherwise answers as a worker would, so the messages carry the
/// job's id and get past every filter), and from strangers on its control and heartbeat
/// sockets. A hostile member may end the job, with an error; nothing may crash, hang or grow.
/// `DLP_FUZZ_MESSAGES=N` for a longer run, `DLP_FUZZ_SEED=S` for other cases.
final class CoordinatorStateMachineFuzzTests: XCTestCase {
  /// The job's outcome, written by its thread before it signals `done`.
  final class Outcome: @unchecked Sendable {
    var error: Error?
    let done = DispatchSemaphore(value: 0)
  }

  /// Starts a coordinator's job (3 epochs of 5 steps, a validation pass each, a commit every 3
  /// steps) on its own thread.
  func startJob(context: ZMQContext, data: PreparedData) throws -> (TrainingCoordinator, Outcome) {
    let coordinator = try TrainingCoordinator(
      options: CoordinatorOptions(
        bind: "inproc://coordinator-fuzz-\(UUID().uuidString)", expectWorkers: 1, acceptTimeout: 10,
        transport: .tcp,
        rejoinTimeout: 1, heartbeat: HeartbeatSettings(interval: 0.1, timeout: 2),
        collectiveTimeout: 2,
        commitInterval: 1000),
      context: context)
    coordinator.control.codec.logsRefusals = false
    let model = try FuzzJob.model()
    let outcome = Outcome()
    let job = HandOver((coordinator, model, data))
    Thread {
      let (coordinator, model, data) = job.value
      do {
        try coordinator.start(
          model: model, description: FuzzJob.description(batchSize: 8), data: data)
        _ = try Trainer.fit(
          model: model, backend: coordinator, trainCount: 40, validationCount: 8,
          options: FitOptions(epochs: 3, batchSize: 8, seed: 1),
          commits: CommitPolicy(everySteps: 3, atEpochEnds: true))
        try coordinator.syncWeights()
        coordinator.shutdown(reason: "job finished")
      } catch {
        outcome.error = error
        coordinator.shutdown(reason: "job failed")
      }
      outcome.done.signal()
    }.start()
    return (coordinator, outcome)
  }

  func testTheCoordinatorSurvivesFuzzedMessagesFromItsMemberAndStrangers() throws {
    let total = FuzzJob.messages(default: 30_000)
    let perRound = 3000
    let data = try FuzzJob.data(rows: 48)
    let metricSlots = try FuzzJob.model().compiled!.layout.size - 2
    var memberFuzzer = MessageFuzzer(seed: FuzzJob.seed)
    var strangerFuzzer = MessageFuzzer(seed: FuzzJob.seed &+ 1)
    var member = FuzzTally()
    var strangers = FuzzTally()
    var completed = 0
    var endings: [String: Int] = [:]
    let capture = StandardErrorCapture(name: "coordinator-fuzz")
    defer { capture.restore() }
    let before = ResidentMemory.bytes()
    var round = 0
    while member.sent + strangers.sent < total {
      round += 1
      let context = try ZMQContext()
      let (coordinator, outcome) = try startJob(context: context, data: data)
      let puppet = try PuppetWorker(
        context: context, endpoint: coordinator.controlEndpoint, workerID: "puppet-\(round)",
        metricSlots: metricSlots,
        fuzzer: memberFuzzer)
      puppet.budget = min(perRound, total - member.sent - strangers.sent)
      let control = try ZMQSocket(
        context: context, kind: .dealer,
        options: .init(sendTimeout: 0.1, routingID: Array("stranger".utf8)))
      try control.connect(coordinator.controlEndpoint)
      let heartbeats = try ZMQSocket(
        context: context, kind: .dealer,
        options: .init(sendTimeout: 0.1, routingID: Array("hb-stranger".utf8)))
      try heartbeats.connect(
        SiblingEndpoints.heartbeatConnect(control: coordinator.controlEndpoint, port: 0))
      let deadline = Date().addingTimeInterval(60)
      var k = 0
      var strangersThisRound = 0
      while outcome.done.wait(timeout: .now()) == .timedOut {
        guard Date() < deadline else {
          XCTFail("round \(round) (seed \(FuzzJob.seed)): the coordinator did not end within 60 s")
          return
        }
        try puppet.step(timeout: 0.005)
        if strangersThisRound < puppet.tally.sent / 4 {
          strangersThisRound += 1
          let c = strangerFuzzer.nextCase()
          strangers.add(c)
          FuzzJob.send(c.frames, on: k % 2 == 0 ? control : heartbeats)
          k += 1
        }
      }
      if let e = outcome.error {
        let text = "\(e)".replacingOccurrences(of: " (puppet-\(round), pid 1 on puppet)", with: "")
        endings[String(text.prefix(90)), default: 0] += 1
      } else {
        completed += 1
      }
      memberFuzzer = puppet.fuzzer
      member.sent += puppet.tally.sent
      member.valid += puppet.tally.valid
      member.kinds.formUnion(puppet.tally.kinds)
      puppet.close()
      control.close()
      heartbeats.close()
    }
    let lines = capture.restore()
    let growth = ResidentMemory.bytes() - before
    print(
      "coordinator fuzz: \(member.sent) messages as its member (\(member.valid) valid), \(strangers.sent) from strangers, \(round) jobs, \(completed) completed, \(lines) log lines; endings: \(endings.sorted { $0.value > $1.value }.prefix(12))"
    )
    XCTAssertEqual(member.kinds, Set(MessageKind.allCases), "some kinds were never sent")
    XCTAssertGreaterThan(completed, 0, "no job survived its member's fuzzed messages")
    XCTAssertLessThan(
      growth, 256 << 20, "\(total) fuzzed messages grew memory by \(growth >> 20) MiB")
    if testRun?.failureCount == 0 { capture.discard() }
  }
}
