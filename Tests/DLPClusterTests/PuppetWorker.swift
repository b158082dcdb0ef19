import DLP
import DLPTestSupport
import DLPTransport
import Foundation

@testable import DLPCluster

/// A worker the test drives by hand, for fuzzing the coordinator: it answers as the one worker
/// of a world of one would (ready after the job spec, RegroupReady, readiness once the state
/// arrived, a metrics report per step command, its share of the state at a commit), with a real
/// heartbeat link, and after each answer sends `burst` fuzzed messages stamped with the job's
/// id and its rank, so they get past every filter into the coordinator's state machine.
final class PuppetWorker {
  let socket: ZMQSocket
  let codec = MessageCodec()
  let workerID: String
  let endpoint: String
  let metricSlots: Int
  var fuzzer: MessageFuzzer
  var tally = FuzzTally()
  /// Fuzzed messages to send after each answer, and in all (then the puppet only answers).
  var burst = 8
  var budget = 0
  private var link: HeartbeatLink?
  private var jobID: UInt64 = 0
  private var heartbeatPort = 0
  private var generation: UInt64 = 0
  private var parameters = 0
  /// Weights then each optimizer slot, as the last Reconfigure sent them.
  private var state: [Float] = []
  private var iterations: UInt64 = 0
  private(set) var finished = false

  init(
    context: ZMQContext, endpoint: String, workerID: String, metricSlots: Int, fuzzer: MessageFuzzer
  ) throws {
    self.workerID = workerID
    self.endpoint = endpoint
    self.metricSlots = metricSlots
    self.fuzzer = fuzzer
    codec.logsRefusals = false
    socket = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(
        sendHighWaterMark: 100_000, sendTimeout: 1, routingID: Array("w-\(workerID)".utf8)))
    try socket.connect(endpoint)
    try codec.send(
      HelloMessage(
        protocolVersion: DLPProtocol.version, workerID: workerID, hostname: "puppet", pid: 1,
        blasThreads: 1, datasetHash: 0,
        datasetName: "", ringEndpoint: "", hostIdentity: "puppet-host"),
      on: socket)
  }

  /// Handles what the coordinator sent within `timeout` seconds, answering and fuzzing. A
  /// coordinator that stopped listening (its job ended) finishes the puppet.
  func step(timeout: Double) throws {
    do {
      try answer(timeout: timeout)
    } catch is TransportError {
      finished = true
    }
  }

  private func answer(timeout: Double) throws {
    guard !finished, let env = try? codec.receive(from: socket, timeout: timeout) else { return }
    switch env.message {
    case .jobSpec(let s):
      jobID = s.jobID
      codec.jobID = s.jobID
      heartbeatPort = (try? JobDescription.decode(s.fitJSON))?.heartbeatPort ?? 0
      link = try HeartbeatLink(
        context: socket.context,
        endpoint: SiblingEndpoints.heartbeatConnect(control: endpoint, port: heartbeatPort),
        identity: Watchdog.identity(workerID: workerID), jobID: s.jobID, rank: 0,
        settings: HeartbeatSettings(interval: 0.1, timeout: 60))
      try codec.send(HeartbeatMessage(sequence: 0), on: socket)
    case .regroup(let r):
      generation = r.generation
      try codec.send(
        RegroupReadyMessage(
          generation: r.generation, ringEndpoint: "inproc://puppet-ring",
          hostIdentity: "puppet-host"), on: socket)
    case .reconfigure(let r):
      try takeState(r)
    case .stepCommand(let c) where c.generation == generation:
      if c.phase == .commit { try sendCommit(c) } else { try sendReport(c) }
    case .shutdown, .reject:
      finished = true
      link?.stop()
      return
    default:
      break
    }
    fuzz()
  }

  /// The weights and slots that follow a Reconfigure, then readiness.
  private func takeState(_ r: ReconfigureMessage) throws {
    guard r.generation == generation, r.parameterCount < 1 << 24, r.slotCount < 8 else { return }
    parameters = Int(r.parameterCount)
    iterations = r.iterations
    let tensors = 1 + Int(r.slotCount)
    state = [Float](repeating: 0, count: parameters * tensors)
    let n = parameters
    try state.withUnsafeMutableBufferPointer { all in
      var targets: [UInt32: StateTransfer.Receiver.Target] = [:]
      for t in 0..<tensors {
        targets[UInt32(t)] = .init(
          UnsafeMutableBufferPointer(rebasing: all[(t * n)..<((t + 1) * n)]), range: 0..<n)
      }
      var receiver = StateTransfer.Receiver(step: r.generation, targets)
      while !receiver.isComplete {
        let env = try codec.receive(from: socket, timeout: 10)
        if case .weightChunk = env.message { try receiver.accept(env, from: "the coordinator") }
      }
    }
    try codec.send(
      HeartbeatMessage(sequence: 0, generation: r.generation), on: socket, step: r.generation)
  }

  /// The step's report; while fuzzing, one in four carries figures at a hostile member's
  /// extremes (NaN or infinite sums, huge counts) instead of its own.
  private func sendReport(_ c: StepCommandMessage) throws {
    if c.phase == .train { iterations += 1 }
    var r = MetricsReportMessage(
      epoch: c.epoch, step: c.step, phase: c.phase, lossSum: 0.5 * Double(c.shardCount),
      sampleCount: UInt64(c.shardCount),
      metricState: [Double](repeating: 0, count: metricSlots), generation: generation)
    if fuzzing, fuzzer.chance(0.25) {
      r.lossSum = fuzzer.double(finite: false)
      r.sampleCount = fuzzer.u64()
      r.metricState = r.metricState.map { _ in fuzzer.double(finite: false) }
    }
    try codec.send(r, on: socket, step: c.step)
  }

  var fuzzing: Bool { tally.sent < budget }

  private func sendCommit(_ c: StepCommandMessage) throws {
    let tensors = parameters == 0 ? 0 : state.count / parameters
    // While fuzzing, one commit in four claims an iteration count at the extremes.
    let claimed = fuzzing && fuzzer.chance(0.25) ? fuzzer.u64() : iterations
    try codec.send(
      CommitReportMessage(
        step: c.step, generation: generation, iterations: claimed, ownedOffset: 0,
        ownedLength: UInt64(parameters),
        slotCount: UInt32(max(0, tensors - 1))),
      on: socket, step: c.step)
    try state.withUnsafeBufferPointer { all in
      for t in 0..<tensors {
        try StateTransfer.send(
          UnsafeBufferPointer(rebasing: all[(t * parameters)..<((t + 1) * parameters)]), at: 0,
          tensor: UInt32(t), step: c.step,
          codec: codec, socket: socket)
      }
    }
  }

  /// Up to `burst` fuzzed messages as this member (its routing id, the job's id, rank 0). A
  /// valid error report, or state out of turn, ends the job by design (the member says it
  /// failed, or garbles a commit): nine in ten of those are drawn again, so most jobs live
  /// long enough to reach commits, rollbacks and new generations.
  private func fuzz() {
    guard jobID != 0 else { return }
    for _ in 0..<min(burst, budget - tally.sent) {
      var c = fuzzer.nextCase(jobID: jobID, senderRank: 0, validShare: 0.5)
      while c.mutation == .none,
        [.errorReport, .weightChunk, .commitReport].contains(c.original.kind), !fuzzer.chance(0.1)
      {
        c = fuzzer.nextCase(jobID: jobID, senderRank: 0, validShare: 0.5)
      }
      tally.add(c)
      FuzzJob.send(c.frames, on: socket)
    }
  }

  func close() {
    link?.stop()
    socket.close()
  }
}
