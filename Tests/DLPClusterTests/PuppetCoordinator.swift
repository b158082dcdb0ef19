import DLP
import DLPTestSupport
import DLPTransport
import Foundation

@testable import DLPCluster

/// A coordinator the test drives by hand, for fuzzing a worker: it admits one worker, sends it
/// a job (the data shipped) and forms generations of one as `TrainingCoordinator` does
/// (Regroup, RegroupReady, Reconfigure with the state, readiness), then commands training steps
/// and waits for their reports, regrouping whenever the worker announces a newer generation
/// (fuzzed Regroups make it). Between commands the test sends it fuzzed messages.
final class PuppetCoordinator {
  let context: ZMQContext
  let router: ZMQSocket
  let heartbeats: ZMQSocket
  let endpoint: String
  let codec = MessageCodec()
  let jobID = UInt64.random(in: 1...UInt64.max)
  let model: Model
  let data: PreparedData
  private(set) var worker: [UInt8] = []
  private(set) var generation: UInt64 = 0
  /// How long to wait for an answer once the worker runs (a step of 8 rows takes a moment;
  /// a worker that says nothing for this long is wedged or gone).
  var patience = 10.0
  /// Whether the worker has ended (waits stop early then).
  var workerEnded: () -> Bool = { false }
  private var sequence: UInt64 = 0
  private var trainSteps: UInt64 = 0

  init(model: Model, data: PreparedData) throws {
    self.model = model
    self.data = data
    context = try ZMQContext()
    codec.logsRefusals = false
    endpoint = "inproc://worker-fuzz-\(UUID().uuidString)"
    router = try ZMQSocket(
      context: context, kind: .router,
      options: .init(sendHighWaterMark: 100_000, sendTimeout: 0.5, routerMandatory: true))
    _ = try router.bind(endpoint)
    // The worker's heartbeat link connects here; nobody needs to answer (its timeout is long).
    heartbeats = try ZMQSocket(context: context, kind: .router)
    _ = try heartbeats.bind(SiblingEndpoints.heartbeatConnect(control: endpoint, port: 0))
  }

  /// The next message from the worker of a kind `accept` takes (others are dropped), or nil
  /// after `timeout` seconds.
  func answer<T>(within timeout: Double, _ accept: (Envelope) -> T?) -> T? {
    let deadline = Date().addingTimeInterval(timeout)
    while Date() < deadline && !workerEnded() {
      guard
        let env = try? codec.receive(
          from: router, timeout: min(0.01, max(0, deadline.timeIntervalSinceNow)))
      else {
        continue
      }
      if let t = accept(env) { return t }
    }
    return nil
  }

  /// Hello -> Welcome, JobSpec and the data -> ready; then the first generation.
  func admit(description: JobDescription) throws -> Bool {
    guard
      let hello = answer(
        within: patience,
        { env -> [UInt8]? in
          if case .hello = env.message { return env.routingID } else { return nil }
        })
    else { return false }
    worker = hello
    codec.jobID = 0
    try codec.send(
      WelcomeMessage(jobID: jobID, rank: 0, worldSize: 1), on: router, routingID: worker)
    codec.jobID = jobID
    try codec.send(
      JobSpecMessage(
        jobID: jobID, modelJSON: model.toJSON(), fitJSON: description.encoded(),
        datasetName: data.datasetName, shipData: true,
        datasetHash: data.contentHash, seed: description.seed, collective: .ring),
      on: router, routingID: worker)
    try DataShipment.send(data, codec: codec, socket: router, to: worker)
    guard readiness(generation: 0) else { return false }
    return try establish(generation: 1)
  }

  private func readiness(generation g: UInt64) -> Bool {
    answer(within: patience) { env -> Bool? in
      if case .heartbeat(let h) = env.message, h.sequence == 0, h.generation == g { return true }
      return nil
    } ?? false
  }

  /// Regroup (unless the worker already announced `g`), Reconfigure with the model's state,
  /// and the worker's readiness.
  func establish(generation g: UInt64, ringEndpoint known: String? = nil) throws -> Bool {
    generation = g
    var ring = known
    if ring == nil {
      try codec.send(RegroupMessage(generation: g), on: router, routingID: worker)
      ring = answer(within: patience) { env -> String? in
        if case .regroupReady(let r) = env.message, r.generation == g { return r.ringEndpoint }
        return nil
      }
    }
    guard let ring else { return false }
    let o = model.compiled!.optimizer
    let count = model.parameters.count
    try codec.send(
      ReconfigureMessage(
        generation: g, rank: 0, worldSize: 1, peerEndpoints: [ring], sharedMemory: false,
        centralPort: 0, iterations: 0,
        parameterCount: UInt64(count), slotCount: UInt32(o.slotCount), learningRate: 0.001),
      on: router, step: g, routingID: worker)
    try sendState(generation: g)
    return readiness(generation: g)
  }

  /// The state a Reconfigure for `g` announces: the model's weights and zero optimizer slots.
  func sendState(generation g: UInt64) throws {
    let o = model.compiled!.optimizer
    let count = model.parameters.count
    let zeros = [Float](repeating: 0, count: count)
    try model.parameters.snapshot().withUnsafeBufferPointer {
      try StateTransfer.send(
        $0, at: 0, tensor: 0, step: g, codec: codec, socket: router, routingID: worker)
    }
    for k in 0..<o.slotCount {
      try zeros.withUnsafeBufferPointer {
        try StateTransfer.send(
          $0, at: 0, tensor: UInt32(1 + k), step: g, codec: codec, socket: router, routingID: worker
        )
      }
    }
  }

  enum StepOutcome { case reported, silent, gone }

  /// Commands one training step on 8 rows and waits for its report; a worker that announces a
  /// newer generation first gets it formed, and the step again.
  func trainStep() throws -> StepOutcome {
    for _ in 0..<4 {
      sequence += 1
      trainSteps += 1
      let rows = (0..<8).map { UInt32((Int(trainSteps) * 8 + $0) % data.train.count) }
      do {
        try codec.send(
          StepCommandMessage(
            epoch: 0, step: sequence, shardStart: 0, shardCount: 8, globalBatchSize: 8,
            sampleIndices: rows, phase: .train,
            trainStep: trainSteps, generation: generation, learningRate: 0.001),
          on: router, step: sequence, routingID: worker)
      } catch {
        return .gone
      }
      let step = sequence
      enum Answer {
        case report
        case regrouped(UInt64, String)
      }
      let answer = answer(within: patience) { env -> Answer? in
        switch env.message {
        case .metricsReport(let r) where env.header.step == step && r.generation == generation:
          return .report
        case .regroupReady(let r) where r.generation > generation:
          return .regrouped(r.generation, r.ringEndpoint)
        default: return nil
        }
      }
      switch answer {
      case .report?: return .reported
      case .regrouped(let g, let ring)?:
        guard let formed = try? establish(generation: g, ringEndpoint: ring) else { return .gone }
        guard formed else { return .silent }
      case nil: return .silent
      }
    }
    return .silent
  }

  /// `c`'s frames to the worker; false when it is gone.
  @discardableResult
  func send(_ c: MessageFuzzer.FuzzCase) -> Bool { FuzzJob.send(c.frames, on: router, to: worker) }

  func shutdown() {
    codec.jobID = jobID
    try? codec.send(ShutdownMessage(reason: "fuzz round over"), on: router, routingID: worker)
  }

  func close() {
    router.close()
    heartbeats.close()
  }
}
