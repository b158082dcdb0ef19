import DLP
import DLPTransport
import Foundation
import XCTest

@testable import DLPCluster

/// The training coordinator and its workers in one process: worker threads, `inproc://`
/// sockets in one ZeroMQ context (no ports, no processes), shipped data. The weights are those
/// of in-process training, and a worker that vanishes mid-epoch costs a rollback, not the job.
final class TrainingCoordinatorTests: XCTestCase {
  func makeData(rows n: Int) throws -> PreparedData {
    try threeClassData(rows: n, seed: 5, name: "synthetic", contentHash: 0xC0FFEE)
  }

  func makeModel() throws -> Model {
    let m = try Sequential(
      [
        InputLayer(shape: [6]), Dense(16, activation: .relu), Dropout(0.2),
        Dense(3, activation: .softmax),
      ], seed: 4)
    try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return m
  }

  func inProcess(_ data: PreparedData, options: FitOptions) throws -> [Float] {
    let m = try makeModel()
    try m.fit(data.train, options: options)
    return m.parameters.snapshot()
  }

  /// Trains on `workers` worker threads; `vanish[i]` makes worker i vanish at that step.
  func onWorkers(
    _ data: PreparedData, options: FitOptions, workers: Int, vanish: [Int: UInt64] = [:],
    collective: CollectiveKind = .ring
  ) throws -> (weights: [Float], events: ElasticEvents) {
    let context = try ZMQContext()
    let coordinator = try TrainingCoordinator(
      options: CoordinatorOptions(
        bind: "inproc://job-\(UUID().uuidString)", expectWorkers: workers, collective: collective,
        shipData: true,
        acceptTimeout: 30, transport: .tcp, heartbeat: HeartbeatSettings(interval: 0.1, timeout: 1),
        collectiveTimeout: 5),
      context: context)
    let done = DispatchGroup()
    for i in 0..<workers {
      var o = WorkerOptions(
        connect: coordinator.controlEndpoint, workerID: "thread-\(i)", joinTimeout: 30)
      o.vanishAtTrainStep = vanish[i]
      let workerOptions = o
      done.enter()
      Thread {
        defer { done.leave() }
        try? Worker(options: workerOptions, context: context).run()
      }.start()
    }
    let model = try makeModel()
    let description = JobDescription(
      dataset: "", samples: nil, numWords: 0, targetColumn: nil, normalize: false,
      validationSplit: 0,
      batchSize: options.batchSize, seed: options.seed, collective: collective.description)
    do {
      try coordinator.start(model: model, description: description, data: data)
      _ = try Trainer.fit(
        model: model, backend: coordinator, trainCount: data.train.count, validationCount: 0,
        options: options,
        commits: CommitPolicy(everySteps: 10, atEpochEnds: true))
      try coordinator.syncWeights()
    } catch {
      coordinator.shutdown(reason: "failed")
      throw error
    }
    coordinator.shutdown(reason: "test over")
    XCTAssertEqual(done.wait(timeout: .now() + 30), .success, "worker threads did not end")
    return (model.parameters.snapshot(), coordinator.events)
  }

  func assertClose(_ a: [Float], _ b: [Float], _ tolerance: Float, _ what: String) {
    XCTAssertEqual(a.count, b.count)
    let worst = zip(a, b).map { abs($0 - $1) / max(abs($0), 1e-3) }.max() ?? 0
    XCTAssertLessThan(worst, tolerance, what)
  }

  func testTwoWorkerThreadsTrainTheInProcessWeights() throws {
    let data = try makeData(rows: 300)
    let options = FitOptions(epochs: 3, batchSize: 32, seed: 2)
    let reference = try inProcess(data, options: options)
    for collective in [CollectiveKind.ring, .central] {
      let (w, events) = try onWorkers(data, options: options, workers: 2, collective: collective)
      assertClose(reference, w, 1e-4, "\(collective)")
      XCTAssertEqual(events.workersLost, [])
      XCTAssertEqual(events.generations, 1)
    }
  }

  func testAVanishedWorkerCostsARollbackNotTheJob() throws {
    let data = try makeData(rows: 300)
    let options = FitOptions(epochs: 3, batchSize: 32, seed: 2)
    let reference = try inProcess(data, options: options)
    // Worker 1 goes silent at step 15 (of 30): the coordinator gives it up after its heartbeat
    // timeout, worker 0 goes on alone from the commit at step 10.
    let (w, events) = try onWorkers(data, options: options, workers: 2, vanish: [1: 15])
    assertClose(reference, w, 1e-4, "after a rollback")
    XCTAssertEqual(events.workersLost.count, 1, "\(events.workersLost)")
    XCTAssertTrue(events.workersLost.first?.contains("thread-1") == true)
    XCTAssertGreaterThanOrEqual(events.stepsRedone, 5)
  }
}
