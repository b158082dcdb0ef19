import DLP
import XCTest

/// BatchNormalization under data parallelism: every replica normalises with the statistics of
/// the GLOBAL batch (the sums travel through the step's collective), so 2 and 3 workers, on
/// the ring (shared memory and tcp) and under the central root, end with in-process training's
/// weights, moving statistics included. 1001 rows divide neither by the batch nor by the
/// workers (the last batch leaves some replica with fewer rows).
final class BatchNormalizationDistributedTests: XCTestCase {
  /// The Dense before the first BatchNormalization has no bias, as the book writes it: a bias
  /// there gets a gradient of pure rounding noise, which Adam would turn into full steps.
  func makeModel(in dir: String) throws -> String {
    let m = try Sequential([
      InputLayer(shape: [6]), Dense(16, useBias: false), BatchNormalization(momentum: 0.9),
      ActivationLayer(.relu), Dropout(0.2),
      Dense(8, activation: .relu), BatchNormalization(), Dense(3, activation: .softmax),
    ])
    try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    let path = dir + "/bn.json"
    try m.toJSON().write(toFile: path, atomically: true, encoding: .utf8)
    return path
  }

  func testWorkersNormaliseWithTheGlobalBatch() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let model = try makeModel(in: dir)
    func train(_ workers: Int, _ collective: String, _ transport: String) throws -> (
      String, JSONValue
    ) {
      let tag = "w\(workers)-\(collective)-\(transport)"
      let r = try Harness.run(
        "dlp",
        [
          "train", "--dataset", job.csv, "--model", model, "--epochs", "2", "--batch-size", "64",
          "--seed", "5",
          "--validation-split", "0.2", "--workers", String(workers), "--allreduce", collective,
          "--transport",
          transport, "--quiet", "--save-weights", "\(dir)/\(tag).npz", "--report",
          "\(dir)/\(tag).json",
        ])
      XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
      return ("\(dir)/\(tag).npz", try Harness.report("\(dir)/\(tag).json"))
    }
    let (reference, referenceReport) = try train(0, "ring", "auto")
    let names = try WeightsFile.read(reference).keys
    XCTAssertTrue(
      names.contains { $0.hasSuffix("moving_mean") },
      "no moving statistics saved: \(names.sorted())")
    for (workers, collective, transport) in [
      (2, "ring", "auto"), (3, "ring", "tcp"), (2, "central", "auto"),
    ] {
      let (weights, report) = try train(workers, collective, transport)
      let diff = try Harness.maxRelativeDifference(reference, weights)
      XCTAssertLessThan(
        diff, 1e-4, "\(workers) workers, \(collective)/\(transport): weights differ by \(diff)")
      let a = referenceReport["history"]!["val_loss"]!.array!.map { $0.double! }
      let b = report["history"]!["val_loss"]!.array!.map { $0.double! }
      XCTAssertEqual(a.count, b.count)
      for (x, y) in zip(a, b) {
        XCTAssertEqual(x, y, accuracy: 1e-4, "val_loss, \(workers) workers \(collective)")
      }
    }
  }
}
