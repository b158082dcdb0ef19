import Foundation
import XCTest

@testable import DLP

/// Two training steps from Keras's own weights and batch, against the weights Keras 3 produced
/// with `train_on_batch` (Tests/Fixtures/keras/steps_*: SGD with and without momentum and
/// nesterov, RMSprop, Adam, an L2 penalty, BCE and MSE heads). This pins the whole step:
/// forward, fused losses, backward, regularisation and each optimizer's update formula.
final class KerasTrainingStepTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/keras")

  func fixtureNames() throws -> [String] {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: Self.folder.path)) ?? []
    let names = files.filter { $0.hasSuffix(".steps.npz") }.map { String($0.dropLast(".steps.npz".count)) }.sorted()
    guard !names.isEmpty else { throw XCTSkip("no Keras step fixtures in \(Self.folder.path)") }
    return names
  }

  func testTwoStepsMatchKeras() throws {
    for name in try fixtureNames() {
      let base = Self.folder.appendingPathComponent(name).path
      let (model, compile) = try KerasModelReader.read(path: base + ".json")
      try model.compile(
        optimizer: KerasObjects.parseOptimizer(compile?.optimizer), losses: compile!.losses,
        metrics: [], lossWeights: compile?.lossWeights)
      try WeightsFile.load(model, from: base + ".weights.npz")
      let io = try WeightsFile.read(base + ".io.npz")
      let expected = try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: base + ".expected.json")))
      let x = try XCTUnwrap(io["x"], name)
      var y = try XCTUnwrap(io["y_true"], name)
      if y.rank == 1 { y = try y.reshaped(to: [y.shape[0], 1]) }
      let data = try ArrayData(x: x, y: y)
      let backend = try LocalBackend(model: model, data: [.train: data], batchSize: data.count)
      let steps = try WeightsFile.read(base + ".steps.npz")
      let kerasLosses = expected["train_on_batch_losses"]?.array?.compactMap(\.double) ?? []
      let rows = Array(0..<data.count)
      for step in 1...2 {
        var stats = [Double](repeating: 0, count: model.compiled!.layout.size)
        try rows.withUnsafeBufferPointer { r in
          try stats.withUnsafeMutableBufferPointer { try backend.trainStep(rows: r, epoch: 0, step: 0, stats: $0.baseAddress!) }
        }
        if kerasLosses.count == 2 {
          XCTAssertEqual(stats[0] / stats[1], kerasLosses[step - 1], accuracy: 1e-5 * max(1, abs(kerasLosses[step - 1])), "\(name) loss at step \(step)")
        }
        for (weight, value) in model.namedWeights() {
          let want = try XCTUnwrap(steps["step\(step)/\(weight)"], "\(name): no step\(step)/\(weight)")
          XCTAssertEqual(value.shape, want.shape)
          let worst = zip(value.scalars, want.scalars).map { abs($0 - $1) }.max() ?? 0
          XCTAssertLessThan(worst, 1e-5, "\(name): \(weight) after step \(step) differs from Keras by \(worst)")
        }
      }
    }
  }
}
