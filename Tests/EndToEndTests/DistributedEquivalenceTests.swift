import DLP
import XCTest

/// With the same seed, 1, 2 and 3 worker processes (ring and central) give the weights and the
/// history of in-process training; 1001 samples divide neither by the batch nor by the workers,
/// and the model has Dropout and an L2 penalty.
final class DistributedEquivalenceTests: XCTestCase {
  func train(
    _ dir: String, _ job: (csv: String, model: String), workers: Int, collective: String, transport: String = "auto",
    insecure: Bool = false
  ) throws -> (weights: String, report: JSONValue) {
    let tag = "w\(workers)-\(collective)-\(transport)\(insecure ? "-insecure" : "")"
    let weights = "\(dir)/\(tag).npz"
    let report = "\(dir)/\(tag).json"
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", job.csv, "--model", job.model, "--epochs", "2", "--batch-size", "64", "--seed", "5",
        "--validation-split", "0.2", "--workers", String(workers), "--allreduce", collective, "--transport", transport,
        "--quiet",
        "--save-weights", weights, "--report", report,
      ] + (insecure ? ["--insecure"] : []))
    XCTAssertEqual(r.status, 0, "workers \(workers) \(collective): \(r.stderr)")
    return (weights, try Harness.report(report))
  }

  func testWorkersReproduceInProcessTraining() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let reference = try train(dir, job, workers: 0, collective: "ring")
    let history = reference.report["history"]!
    // Workers on one host run the ring through shared memory unless told tcp.
    // Unsecured (--insecure), the ring over tcp runs on plain streams (StreamRing); secured,
    // over ZeroMQ under CURVE: the report's tcp_wire says which.
    let runs = [
      (1, "ring", "auto", "ring/tcp", false, nil), (2, "ring", "auto", "ring/shm", false, nil),
      (3, "ring", "auto", "ring/shm", false, nil), (2, "ring", "tcp", "ring/tcp", false, "zmq"),
      (3, "ring", "tcp", "ring/tcp", false, "zmq"), (2, "ring", "tcp", "ring/tcp", true, "stream"),
      (3, "ring", "tcp", "ring/tcp", true, "stream"), (2, "central", "auto", "central/tcp", false, nil),
      (3, "central", "auto", "central/tcp", false, nil),
    ]
    for (workers, collective, transport, used, insecure, wire) in runs {
      let run = try train(dir, job, workers: workers, collective: collective, transport: transport, insecure: insecure)
      let what = "\(workers) workers, \(collective), --transport \(transport)\(insecure ? " --insecure" : "")"
      XCTAssertEqual(run.report["allreduce"]?.string, used, what)
      XCTAssertEqual(run.report["tcp_wire"]?.string, wire, what)
      let diff = try Harness.maxRelativeDifference(reference.weights, run.weights)
      XCTAssertLessThan(diff, 1e-4, "\(workers) workers, \(collective): weights differ by \(diff)")
      for key in ["loss", "accuracy", "val_loss", "val_accuracy"] {
        let a = history[key]!.array!.map { $0.double! }
        let b = run.report["history"]![key]!.array!.map { $0.double! }
        XCTAssertEqual(a.count, b.count)
        for (x, y) in zip(a, b) { XCTAssertEqual(x, y, accuracy: 5e-5, "\(key) with \(workers) workers (\(collective))") }
      }
      XCTAssertEqual(run.report["workers"]?.int, workers)
    }
  }

  /// A stacked LSTM (masked embeddings, dropout and recurrent dropout) and a bidirectional GRU
  /// (recurrent dropout) on 2 and 3 workers give in-process weights: the recurrent layers only
  /// need rows of a batch to be independent, and their dropout masks are keyed by the row in the
  /// global batch, as Dropout's are.
  func testSequenceModelsOnWorkersMatchInProcess() throws {
    let dir = Harness.folder()
    let job = try Harness.makeSequenceJob(in: dir)
    try assertWorkersMatchInProcess(
      dir, dataset: job.npz, models: [("lstm", job.lstm), ("gru", job.gru)], batchSize: 32, seed: 3)
  }

  /// `dlp evaluate --workers 2` shards the test set and sums metrics exactly as one process does.
  func testShardedEvaluationMatchesInProcess() throws {
    guard FileManager.default.fileExists(atPath: "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz") else {
      throw XCTSkip("Fashion-MNIST is not installed (scripts/setup installs dataset-fashion-mnist); skipping")
    }
    let dir = Harness.folder()
    let weights = "\(dir)/w.npz"
    let t = try Harness.run(
      "dlp", ["train", "--dataset", "fashion_mnist", "--preset", "mnist-mlp", "--epochs", "1", "--samples", "3000", "--quiet", "--save-weights", weights])
    XCTAssertEqual(t.status, 0, t.stderr)
    var results: [JSONValue] = []
    for workers in [0, 2, 3] {
      let report = "\(dir)/ev\(workers).json"
      let r = try Harness.run(
        "dlp", ["evaluate", "--dataset", "fashion_mnist", "--preset", "mnist-mlp", "--load-weights", weights, "--workers", String(workers), "--report", report])
      XCTAssertEqual(r.status, 0, r.stderr)
      results.append(try Harness.report(report)["evaluation"]!)
    }
    for r in results.dropFirst() {
      XCTAssertEqual(r["accuracy"]?.double, results[0]["accuracy"]?.double)
      XCTAssertEqual(r["loss"]!.double!, results[0]["loss"]!.double!, accuracy: 1e-6)
    }
  }

  /// A convnet and a two-branch functional convnet (shared Conv2D, Concatenate, Add, max
  /// pooling) on 2 and 3 workers give in-process weights. The images are continuous-valued:
  /// on real images (Fashion-MNIST's flat black backgrounds) many max-pool windows hold exact
  /// ties, and the last-bit rounding that differs with summation order (shards vs a batch,
  /// even 1 vs 2 BLAS threads in one process) decides which position a tie routes its
  /// gradient to, so runs drift by ~1e-4 absolute in a few steps. That is the argmax's
  /// discontinuity, not the exchange: here nothing ties, and the exchange itself is checked.
  func testConvnetsOnWorkersMatchInProcess() throws {
    let dir = Harness.folder()
    let job = try Harness.makeImageJob(in: dir)
    try assertWorkersMatchInProcess(
      dir, dataset: job.npz, models: [("sequential", job.sequential), ("functional", job.functional)],
      batchSize: 64, seed: 2)
  }

  /// Each model trained 2 epochs on 2 and 3 workers ends with in-process training's weights
  /// (1e-4 relative).
  func assertWorkersMatchInProcess(
    _ dir: String, dataset: String, models: [(name: String, path: String)], batchSize: Int, seed: Int
  ) throws {
    for (name, model) in models {
      func train(_ workers: Int) throws -> String {
        let weights = "\(dir)/\(name)-\(workers).npz"
        let r = try Harness.run(
          "dlp",
          ["train", "--dataset", dataset, "--model", model, "--epochs", "2", "--batch-size", String(batchSize), "--seed",
           String(seed), "--workers", String(workers), "--quiet", "--save-weights", weights])
        XCTAssertEqual(r.status, 0, "\(name) on \(workers) workers: \(r.stderr)")
        return weights
      }
      let reference = try train(0)
      for workers in [2, 3] {
        let diff = try Harness.maxRelativeDifference(reference, try train(workers))
        XCTAssertLessThan(diff, 1e-4, "\(name) weights on \(workers) workers differ by \(diff)")
      }
    }
  }
}
