import XCTest

@testable import DLP

/// Finite-difference checks of the vision layers' backward passes (training mode: the random
/// layers draw the same transforms for every evaluation of a given step).
final class VisionLayerGradientTests: XCTestCase {
  func check(
    _ layers: [Layer], input: [Int], outputs: Int = 3, batch: Int = 3, scale: Float = 1,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let model = try Sequential([InputLayer(shape: input)] + layers + [Flatten(), Dense(outputs)], seed: 3)
    try model.compile(optimizer: SGD(), losses: [MeanSquaredError()])
    let data = try ArrayData(
      x: testTensor([batch] + input, seed: 11, scale: scale), y: testTensor([batch, outputs], seed: 5))
    GradientChecker(model: model, data: data).run(file: file, line: line)
  }

  func testRescalingAndResizing() throws {
    try check([Rescaling(0.5, offset: 0.25)], input: [3, 4, 2])
    try check([Rescaling(scale: [2, -1], offset: [0.5, 0])], input: [3, 4, 2])
    try check([Resizing(height: 5, width: 3)], input: [3, 4, 2])
    try check([Resizing(height: 2, width: 7)], input: [5, 4, 1])
  }

  func testRandomFlipInEveryMode() throws {
    for mode in [RandomFlip.Mode.horizontal, .vertical, .horizontalAndVertical] {
      try check([RandomFlip(mode, seed: 4)], input: [3, 4, 2], batch: 6)
    }
  }

  func testAffineAugmentationsInEveryFillMode() throws {
    for fill in FillMode.allCases {
      try check([RandomRotation(factor: (-0.3, 0.3), fillMode: fill, seed: 1)], input: [5, 6, 2])
      try check(
        [RandomZoom(heightFactor: (-0.4, 0.3), widthFactor: (-0.2, 0.5), fillMode: fill, seed: 2)], input: [5, 6, 2])
      try check([RandomTranslation(0.3, 0.4, fillMode: fill, seed: 3)], input: [6, 5, 1])
    }
    try check([RandomRotation(factor: (-0.5, 0.5), interpolation: .nearest, seed: 9)], input: [5, 5, 2])
  }

  func testRandomContrast() throws {
    // Inputs in [0, 1] against a wide value range: no clipping kink near the sample points.
    try check([RandomContrast(factor: (0.2, 0.8), valueRange: (-10, 10), seed: 5)], input: [3, 4, 2], scale: 1)
  }

  func testBatchNormalization() throws {
    try check([BatchNormalization()], input: [5], batch: 6)
    try check([Dense(4, activation: .tanh), BatchNormalization(momentum: 0.9, center: false)], input: [3], batch: 5)
    try check([Conv2D(3, kernelSize: 2), BatchNormalization(scale: false)], input: [4, 4, 2], batch: 3)
  }

  func testSeparableConv2D() throws {
    try check([SeparableConv2D(3, kernelSize: [2, 2])], input: [4, 5, 2])
    try check(
      [
        SeparableConv2D(2, kernelSize: [3, 3], strides: [2, 2], padding: .same, depthMultiplier: 2, activation: .relu)
      ],
      input: [5, 5, 3])
  }

  func testConv2DTranspose() throws {
    try check([Conv2DTranspose(3, kernelSize: [3, 3])], input: [3, 3, 2])
    try check(
      [Conv2DTranspose(2, kernelSize: [3, 3], strides: [2, 2], padding: .same, activation: .tanh)], input: [3, 4, 2])
    try check(
      [Conv2DTranspose(2, kernelSize: [2, 3], strides: [2, 1], padding: .valid, outputPadding: [1, 0])],
      input: [2, 3, 1])
    try check(
      [Conv2DTranspose(2, kernelSize: [4, 4], strides: [3, 3], padding: .same, outputPadding: [2, 1])],
      input: [2, 2, 2])
  }
}
