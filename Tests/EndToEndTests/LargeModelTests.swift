import DLP
import Foundation
import XCTest

/// A model above the control socket's frame limit: 17.3M parameters (69 MB of float32 weights,
/// 139 MB with its momentum slot) used to hang at the end of a 2-worker job, its final weights
/// not fitting in one 64 MiB frame. Weights, optimizer state and commits now travel in chunks:
/// the job ends, and its saved weights are in-process training's. The data is tiny (24 rows,
/// 3 steps) so the test costs what moving the model costs.
final class LargeModelTests: XCTestCase {
  static let features = 4330

  /// 24 rows of `features` values and a 3-class label; a 4330-4000-3 MLP compiled with SGD and
  /// momentum (17,336,003 parameters).
  func makeLargeJob(in dir: String) throws -> (csv: String, model: String, parameters: Int) {
    var rng = SeededGenerator(seed: 11)
    var lines = [((0..<Self.features).map { "f\($0)" } + ["label"]).joined(separator: ",")]
    for _ in 0..<24 {
      let c = Int(rng.next() % 3)
      let row = (0..<Self.features).map { j in
        String(format: "%.3f", Float(j % 3 == c ? 1 : 0) + rng.nextNormal() * 0.5)
      }
      lines.append((row + [String(c)]).joined(separator: ","))
    }
    let csv = dir + "/wide.csv"
    try lines.joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    let m = try Sequential([
      InputLayer(shape: [Self.features]), Dense(4000, activation: .relu),
      Dense(3, activation: .softmax),
    ])
    // SGD with momentum: one optimizer slot travels with the weights, and the update is linear
    // in the gradient, so summation order moves the weights by float rounding only (Adam's
    // normalised steps amplify it where a gradient is near zero).
    try m.compile(
      optimizer: SGD(learningRate: 0.01, momentum: 0.9), losses: [SparseCategoricalCrossentropy()],
      metrics: ["accuracy"])
    let model = dir + "/wide.json"
    try m.toJSON().write(toFile: model, atomically: true, encoding: .utf8)
    return (csv, model, m.parameters.count)
  }

  func testAModelAbove17MillionParametersTrainsOnTwoWorkers() throws {
    let dir = Harness.folder()
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let job = try makeLargeJob(in: dir)
    XCTAssertGreaterThan(job.parameters, 17_300_000)
    let flags = [
      "train", "--dataset", job.csv, "--model", job.model, "--epochs", "1", "--batch-size", "8",
      "--seed", "3", "--quiet",
    ]
    let distributed = try Harness.run(
      "dlp",
      flags + [
        "--workers", "2", "--save-weights", dir + "/workers.npz", "--report", dir + "/workers.json",
      ],
      timeout: 240)
    XCTAssertEqual(distributed.status, 0, distributed.stderr)
    let alone = try Harness.run(
      "dlp", flags + ["--save-weights", dir + "/alone.npz"], timeout: 240)
    XCTAssertEqual(alone.status, 0, alone.stderr)
    XCTAssertEqual(try Harness.report(dir + "/workers.json")["workers"]?.double, 2)
    let saved = try WeightsFile.read(dir + "/workers.npz")
    XCTAssertEqual(saved.values.reduce(0) { $0 + $1.scalars.count }, job.parameters)
    let difference = try Harness.maxRelativeDifference(dir + "/workers.npz", dir + "/alone.npz")
    print(
      "17.3M parameters on 2 workers vs in-process: largest relative weight difference \(difference)"
    )
    XCTAssertLessThan(difference, 1e-5)
  }
}
