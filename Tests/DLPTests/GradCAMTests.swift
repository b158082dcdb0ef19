import XCTest

@testable import DLP

/// Looking inside: gradients with respect to an inner layer, Grad-CAM against Keras/JAX, filter
/// patterns and activation grids.
final class GradCAMTests: XCTestCase {
  /// The gradient of the top class's score with respect to `last_conv`'s output, and the book's
  /// heatmap, as Keras on JAX computes them (Tests/Fixtures/vision/gradcam.*).
  func testGradCAMMatchesKeras() throws {
    let (model, _) = try VisionFixtures.model("gradcam.json")
    try WeightsFile.load(model, from: VisionFixtures.path("gradcam.weights.npz"))
    let io = try VisionFixtures.arrays("gradcam.io.npz")
    let expected = try VisionFixtures.json("gradcam.expected.json")
    let g = try LayerGradient(model: model, layer: "last_conv", capacity: 1)
    let k = expected["class"]!.int!
    let r = try g.compute(io["x"]!) { _, seed, _, _ in
      seed[k] = 1
      return [0]
    }
    XCTAssertLessThanOrEqual(maxRelativeDifference(r.activation.scalars, io["layer_output"]!.scalars), 1e-5)
    XCTAssertLessThanOrEqual(maxRelativeDifference(r.gradient.scalars, io["grads"]!.scalars), 1e-5)
    XCTAssertLessThanOrEqual(maxRelativeDifference(r.output.scalars, io["predictions"]!.scalars), 1e-6)
    let cam = try GradCAM.compute(model: model, x: io["x"]!, layer: "last_conv")
    XCTAssertEqual(cam.classes, [k])
    XCTAssertEqual(cam.heatmap.shape, [1] + Array(io["heatmap"]!.shape))
    XCTAssertLessThanOrEqual(maxRelativeDifference(cam.heatmap.scalars, io["heatmap"]!.scalars), 1e-5)
    XCTAssertEqual(cam.heatmap.scalars.max(), 1)
  }

  /// The inner-layer gradient agrees with finite differences of the objective through the
  /// layers above it.
  func testLayerGradientAgainstFiniteDifferences() throws {
    let conv = try Conv2D(3, kernelSize: 3, activation: .relu, name: "conv")
    let m = try Sequential(
      [InputLayer(shape: [6, 6, 2]), conv, MaxPooling2D(2), Flatten(), Dense(4, activation: .softmax, name: "p")],
      seed: 4)
    let x = testTensor([1, 6, 6, 2], seed: 2)
    let g = try LayerGradient(model: m, layer: "conv", capacity: 1)
    let r = try g.compute(x) { y, seed, _, _ in
      seed[2] = 1
      return [y[2]]
    }
    // The head alone, fed the conv output: its output 2 moved by each activation.
    let head = try Sequential([
      InputLayer(shape: [4, 4, 3]), MaxPooling2D(2), Flatten(), Dense(4, activation: .softmax),
    ])
    try head.setWeights(try m.layer(named: "p").getWeights())
    var a = r.activation
    for i in stride(from: 0, to: a.count, by: 5) {
      let e: Float = 1e-2
      a.scalars[i] += e
      let up = try head.predict(a).scalars[2]
      a.scalars[i] -= 2 * e
      let down = try head.predict(a).scalars[2]
      a.scalars[i] += e
      XCTAssertEqual(r.gradient.scalars[i], (up - down) / (2 * e), accuracy: 2e-3, "activation \(i)")
    }
  }

  func testFilterPatternClimbs() throws {
    let m = try Sequential(
      [
        InputLayer(shape: [12, 12, 3]), Conv2D(4, kernelSize: 3, activation: .relu, name: "c1"),
        Conv2D(2, kernelSize: 3, name: "c2"),
      ], seed: 1)
    let start = try FilterPattern.generate(model: m, layer: "c2", filter: 1, iterations: 0)
    let end = try FilterPattern.generate(model: m, layer: "c2", filter: 1, iterations: 10, learningRate: 1)
    XCTAssertEqual(end.image.shape, [12, 12, 3])
    XCTAssertGreaterThan(end.objective, start.objective + 0.1)
    XCTAssertThrowsError(try FilterPattern.generate(model: m, layer: "c2", filter: 2))
  }

  func testActivationGridLayout() throws {
    // 3 channels of 2 x 2, 2 per row: a 2 x 2 grid of tiles with 1-pixel gaps.
    let a = Tensor(uncheckedShape: [2, 2, 3], scalars: [0, 5, 1, 1, 5, 2, 2, 5, 3, 3, 5, 4])
    let grid = try ActivationGrid.tile(a, perRow: 2)
    XCTAssertEqual(grid.height, 5)
    XCTAssertEqual(grid.width, 5)
    // Channel 0 is 0, 1, 2, 3: standardised around 128; channel 1 is constant: black.
    XCTAssertLessThan(grid.pixels[0], grid.pixels[1])
    XCTAssertEqual(grid.pixels[3], 0)
    XCTAssertEqual(grid.pixels[2], 0, "the gap")
  }
}
