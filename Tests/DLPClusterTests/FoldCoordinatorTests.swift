import DLP
import DLPTransport
import Foundation
import XCTest

@testable import DLPCluster

/// A sweep's coordinator with workers on threads of this process (real sockets, shipped data):
/// the results are the in-process runner's, and a worker that falls silent mid-task loses
/// nothing.
final class FoldCoordinatorTests: XCTestCase {
  func makeData(rows n: Int) throws -> PreparedData {
    try threeClassData(rows: n, seed: 7, name: "synthetic", contentHash: 0x5EED)
  }

  func makeBlueprint() throws -> ModelBlueprint {
    let m = try Sequential([
      InputLayer(shape: [6]), Dense(16, activation: .relu), Dropout(0.2),
      Dense(3, activation: .softmax),
    ])
    try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return try ModelBlueprint(m)
  }

  func sweepJob(normalize: Bool, groupSize: Int = 1, collectiveTimeout: Double = 10)
    -> FoldJobDescription
  {
    FoldJobDescription(
      kfold: .init(normalize: normalize, groupSize: groupSize),
      data: JobDescription(
        dataset: "", samples: nil, numWords: 0, targetColumn: nil, normalize: false,
        validationSplit: 0, batchSize: 32, seed: 11, collective: "ring",
        collectiveTimeout: collectiveTimeout))
  }

  /// Runs `Worker`s on threads until the coordinator shuts them down.
  func startWorkers(_ n: Int, connect: String) -> [Thread] {
    (0..<n).map { i in
      let t = Thread {
        let w = try? Worker(
          options: WorkerOptions(connect: connect, workerID: "thread-\(i)", joinTimeout: 60))
        try? w?.run()
      }
      t.start()
      return t
    }
  }

  func assertSame(
    _ a: [FoldResult], _ b: [FoldResult], file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    for (x, y) in zip(a, b) {
      XCTAssertEqual(x, y, "repeat \(x.repeat) fold \(x.fold) differs", file: file, line: line)
    }
  }

  func testTwoWorkersGiveTheInProcessResults() throws {
    let data = try makeData(rows: 240)
    let blueprint = try makeBlueprint()
    let options = CrossValidationOptions(epochs: 3, batchSize: 32)
    let tasks = try IteratedKFoldPlan(folds: 4, repeats: 3, seed: 11).tasks(count: data.train.count)
    let expected = try InProcessFoldRunner(
      data: data.train, normalize: true, makeModel: blueprint.make
    ).run(tasks: tasks, options: options)

    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: 2, shipData: true, acceptTimeout: 30),
      blueprint: blueprint, job: sweepJob(normalize: true), data: data)
    _ = startWorkers(2, connect: c.controlEndpoint)
    var seen = 0
    let results = try c.run(tasks: tasks, options: options) { _ in seen += 1 }
    c.finish(reason: "test over")
    XCTAssertEqual(seen, 12)
    assertSame(results, expected)
    XCTAssertEqual(c.losses, [])
  }

  /// A worker that takes a task and then falls silent (no heartbeat, no result), as a remote
  /// worker whose host died would: after the heartbeat timeout its task is redone elsewhere.
  func testASilentWorkersTaskIsRedoneByTheOthers() throws {
    let data = try makeData(rows: 160)
    let blueprint = try makeBlueprint()
    let options = CrossValidationOptions(epochs: 2, batchSize: 32)
    let tasks = try KFoldPlan(folds: 4, shuffle: true, seed: 5).tasks(count: data.train.count)
    let expected = try InProcessFoldRunner(
      data: data.train, normalize: false, makeModel: blueprint.make
    ).run(tasks: tasks, options: options)

    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: 2, shipData: true, acceptTimeout: 30,
        heartbeat: HeartbeatSettings(timeout: 3)),
      blueprint: blueprint, job: sweepJob(normalize: false), data: data)
    // The silent one joins first and says ready at once, so it surely gets a task.
    let context = try ZMQContext()
    let fake = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(maxMessageSize: 1 << 30, sendTimeout: 5, routingID: Array("w-silent".utf8)))
    try fake.connect(c.controlEndpoint)
    let assigned = Flag()
    let fakeThread = Thread {
      let codec = MessageCodec()
      try? codec.send(
        HelloMessage.local(workerID: "silent", blasThreads: 1, ringEndpoint: "tcp://127.0.0.1:1"),
        on: fake)
      var jobID: UInt64 = 0
      while let env = try? codec.receive(from: fake, timeout: 30) {
        switch env.message {
        case .jobSpec(let s):
          jobID = s.jobID
        case .dataShipment(let m) where m.last:
          codec.jobID = jobID
          try? codec.send(TaskRequestMessage(datasetHash: 0x5EED), on: fake)
        case .taskAssignment:
          assigned.set()
          return  // and say nothing, ever
        default:
          continue
        }
      }
    }
    fakeThread.start()
    // The fake is admitted first (explicitly, before the real workers start).
    try c.control.accept(count: 1)
    _ = startWorkers(1, connect: c.controlEndpoint)

    let start = Date()
    let results = try c.run(tasks: tasks, options: options, onResult: nil)
    c.finish(reason: "test over")
    XCTAssertTrue(assigned.isSet, "the silent worker never got a task")
    assertSame(results, expected)
    XCTAssertEqual(c.losses.count, 1, "\(c.losses)")
    XCTAssertTrue(c.losses.first?.contains("stopped responding") == true, "\(c.losses)")
    XCTAssertLessThan(Date().timeIntervalSince(start), 20)
    if assigned.isSet { fake.close() }
  }

  /// A worker that loads its own copy of the data must have the coordinator's (content hash).
  func testAWorkerWithOtherDataIsRefused() throws {
    let dir = NSTemporaryDirectory() + "dlp-kfold-\(getpid())-\(UUID().uuidString.prefix(8))"
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    let csv = dir + "/other.csv"
    var lines = ["f0,f1,f2,f3,f4,f5,label"]
    for i in 0..<40 {
      lines.append((0..<6).map { String(Float(i * $0) / 7) }.joined(separator: ",") + ",\(i % 3)")
    }
    try lines.joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    var job = sweepJob(normalize: false)
    job.data.dataset = csv
    let c = try FoldCoordinator(
      options: CoordinatorOptions(bind: "tcp://127.0.0.1:*", expectWorkers: 1, acceptTimeout: 30),
      blueprint: try makeBlueprint(), job: job)
    _ = startWorkers(1, connect: c.controlEndpoint)
    // The workers start loading before the coordinator has its data, as `dlp kfold` does.
    try c.start()
    let data = try makeData(rows: 40)
    c.data = data
    let tasks = try KFoldPlan(folds: 2).tasks(count: 40)
    XCTAssertThrowsError(try c.run(tasks: tasks, options: CrossValidationOptions(epochs: 1))) { e in
      XCTAssertTrue("\(e)".contains("the datasets differ"), "\(e)")
    }
    c.finish(reason: "test over", failed: true)
  }

  /// Per-fold histories and scores within `relative` of each other (what data-parallel groups
  /// promise: the same results up to float summation order).
  func assertClose(
    _ a: [FoldResult], _ b: [FoldResult], relative: Double, file: StaticString = #filePath,
    line: UInt = #line
  ) {
    XCTAssertEqual(a.count, b.count, file: file, line: line)
    func close(_ x: Double, _ y: Double) -> Bool {
      abs(x - y) <= relative * max(abs(x), abs(y), 1e-3)
    }
    for (x, y) in zip(a, b) {
      let which = "repeat \(x.repeat) fold \(x.fold)"
      XCTAssertEqual(x.repeat, y.repeat, which, file: file, line: line)
      XCTAssertEqual(x.fold, y.fold, which, file: file, line: line)
      XCTAssertEqual(Set(x.evaluation.keys), Set(y.evaluation.keys), which, file: file, line: line)
      for (k, v) in x.evaluation {
        XCTAssertTrue(
          close(v, y.evaluation[k] ?? .nan), "\(which) \(k): \(v) vs \(y.evaluation[k] ?? .nan)",
          file: file, line: line)
      }
      XCTAssertEqual(
        Set(x.history.history.keys), Set(y.history.history.keys), which, file: file, line: line)
      for (k, v) in x.history.history {
        let w = y.history.history[k] ?? []
        XCTAssertEqual(v.count, w.count, "\(which) \(k)", file: file, line: line)
        for (p, q) in zip(v, w) {
          XCTAssertTrue(close(p, q), "\(which) \(k): \(p) vs \(q)", file: file, line: line)
        }
      }
    }
  }

  /// Groups of 2 out of 3 workers (one spare): each task's batches are split between its two
  /// members and their gradients summed over a ring. Not bitwise: the gradient of a batch is
  /// summed as two partial sums, and the optimizer and the metrics see the difference in the
  /// last bits; 1e-4 relative is some thousand times that after 3 epochs of Adam.
  func testGroupsOfTwoGiveTheInProcessResults() throws {
    let data = try makeData(rows: 241)
    let blueprint = try makeBlueprint()
    // Folds of 60, training on 181 rows: batches of 32 leave a last batch of 21 (parts 11, 10).
    let options = CrossValidationOptions(epochs: 3, batchSize: 32)
    let tasks = try KFoldPlan(folds: 4, shuffle: true, seed: 3).tasks(count: data.train.count)
    let expected = try InProcessFoldRunner(
      data: data.train, normalize: true, makeModel: blueprint.make
    ).run(tasks: tasks, options: options)

    var job = sweepJob(normalize: true)
    job.kfold.groupSize = 2
    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: 3, shipData: true, acceptTimeout: 30),
      blueprint: blueprint, job: job, data: data)
    _ = startWorkers(3, connect: c.controlEndpoint)
    let results = try c.run(tasks: tasks, options: options, onResult: nil)
    c.finish(reason: "test over")
    assertClose(results, expected, relative: 1e-4)
    XCTAssertEqual(c.losses, [])
  }

  /// A batch of one row leaves the second member an empty part: it still takes part in the
  /// collectives, and the statistics count each sample once.
  func testAnEmptyPartOfABatchStillSums() throws {
    let data = try makeData(rows: 40)
    let blueprint = try makeBlueprint()
    let options = CrossValidationOptions(epochs: 1, batchSize: 1)
    let tasks = try KFoldPlan(folds: 2).tasks(count: data.train.count)
    let expected = try InProcessFoldRunner(
      data: data.train, normalize: false, makeModel: blueprint.make
    ).run(tasks: tasks, options: options)
    var job = sweepJob(normalize: false)
    job.kfold.groupSize = 2
    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: 2, shipData: true, acceptTimeout: 30),
      blueprint: blueprint, job: job, data: data)
    _ = startWorkers(2, connect: c.controlEndpoint)
    let results = try c.run(tasks: tasks, options: options, onResult: nil)
    c.finish(reason: "test over")
    // One row per batch: the only part is the leader's, so the sums are the in-process ones.
    assertSame(results, expected)
  }

  /// A group member that takes its task and then sits it out (its heartbeat goes on, so it is
  /// not lost): its partner's ring times out, the partner gives the task up, and the task is
  /// redone by a group of the two others.
  func testAGroupWhoseRingFailsGivesItsTaskBack() throws {
    let data = try makeData(rows: 120)
    let blueprint = try makeBlueprint()
    let options = CrossValidationOptions(epochs: 2, batchSize: 32)
    let tasks = try KFoldPlan(folds: 3).tasks(count: data.train.count)
    let c = try FoldCoordinator(
      options: CoordinatorOptions(
        bind: "tcp://127.0.0.1:*", expectWorkers: 3, shipData: true, acceptTimeout: 30),
      blueprint: blueprint, job: sweepJob(normalize: false, groupSize: 2, collectiveTimeout: 1),
      data: data)
    let context = try ZMQContext()
    let fake = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(maxMessageSize: 1 << 30, sendTimeout: 5, routingID: Array("w-idle".utf8)))
    try fake.connect(c.controlEndpoint)
    let assigned = Flag()
    let stop = Flag()
    // Joins first and says ready first, so it is in the first group.
    let fakeThread = Thread {
      let codec = MessageCodec()
      try? codec.send(
        HelloMessage.local(workerID: "idle", blasThreads: 1, ringEndpoint: "tcp://127.0.0.1:1"),
        on: fake)
      var heartbeat: HeartbeatLink?
      defer { heartbeat?.stop() }
      while !stop.isSet {
        guard let env = try? codec.receive(from: fake, timeout: 0.2) else { continue }
        switch env.message {
        case .jobSpec(let s):
          codec.jobID = s.jobID
          let port = (try? FoldJobDescription.sweep(in: s.fitJSON))??.data.heartbeatPort ?? 0
          heartbeat = try? HeartbeatLink(
            context: context, endpoint: "tcp://127.0.0.1:\(port)", identity: "hb-idle",
            jobID: s.jobID, rank: s.rank, settings: HeartbeatSettings())
        case .dataShipment(let m) where m.last:
          try? codec.send(
            TaskRequestMessage(datasetHash: 0x5EED, ringEndpoint: "tcp://127.0.0.1:1"), on: fake)
        case .taskAssignment:
          assigned.set()  // and never run it
        default:
          continue
        }
      }
    }
    fakeThread.start()
    // The fake is admitted first (explicitly, before the real workers start).
    try c.control.accept(count: 1)
    _ = startWorkers(2, connect: c.controlEndpoint)
    let results = try c.run(tasks: tasks, options: options, onResult: nil)
    stop.set()
    c.finish(reason: "test over")
    XCTAssertTrue(assigned.isSet, "the idle member never got a task")
    XCTAssertEqual(results.map(\.fold), [0, 1, 2])
    XCTAssertEqual(c.losses, [])
    XCTAssertEqual(c.requeues.count, 1, "\(c.requeues)")
    XCTAssertTrue(c.requeues.first?.contains("ring failed") == true, "\(c.requeues)")
    fake.close()
  }

  func testAGroupLargerThanTheWorkersIsRefusedClearly() throws {
    var job = sweepJob(normalize: false)
    job.kfold.groupSize = 3
    XCTAssertThrowsError(
      try FoldCoordinator(
        options: CoordinatorOptions(bind: "tcp://127.0.0.1:*", expectWorkers: 2),
        blueprint: try makeBlueprint(), job: job, data: try makeData(rows: 10))
    ) { e in
      XCTAssertTrue("\(e)".contains("--group-size 3"), "\(e)")
    }
  }
}

final class Flag: @unchecked Sendable {
  private let lock = NSLock()
  private var value = false
  func set() {
    lock.lock()
    value = true
    lock.unlock()
  }
  var isSet: Bool {
    lock.lock()
    defer { lock.unlock() }
    return value
  }
}
