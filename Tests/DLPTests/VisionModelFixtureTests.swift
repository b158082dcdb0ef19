import XCTest

@testable import DLP

/// Whole models against Keras 3 on JAX (Tests/Fixtures/vision): the book's frozen VGG16 base
/// with a dense head, a Keras-trained model with every vision layer, and fits from Keras's
/// initial weights.
final class VisionModelFixtureTests: XCTestCase {
  /// `scripts/peers/make_vision_fixtures.py`'s checksum: sum over i of (float32 bits) * (2i + 1),
  /// mod 2^64.
  static func checksum(_ values: [Float]) -> UInt64 {
    var sum: UInt64 = 0
    for (i, v) in values.enumerated() { sum &+= UInt64(v.bitPattern) &* (2 &* UInt64(i) &+ 1) }
    return sum
  }

  /// Keras's VGG16(include_top=False, weights=None, input_shape=(32, 32, 3)), frozen, in the
  /// book's Sequential with Flatten, Dense(256), Dense(1), built under set_random_seed(7):
  /// DLP's --seed 7 gives the same weights bit for bit, Keras's counts and Keras's outputs.
  func testVGG16HeadHasKerasCountsWeightsAndOutputs() throws {
    let expected = try VisionFixtures.json("vgg16_head.expected.json")
    let (model, compile) = try VisionFixtures.model("vgg16_head.json", seed: 7)
    XCTAssertEqual(compile?.losses.map(\.name), ["binary_crossentropy"])
    let counts = expected["counts"]!
    XCTAssertEqual(model.parameterCount, counts["total"]!.int)
    XCTAssertEqual(model.trainableParameterCount, counts["trainable"]!.int)
    let summary = model.summary()
    XCTAssertTrue(summary.contains("vgg16 (Functional)"), summary)
    XCTAssertTrue(summary.contains("14,714,688"), summary)
    XCTAssertTrue(summary.contains("Total params: 14,846,273"), summary)
    XCTAssertTrue(summary.contains("Trainable params: 131,585"), summary)
    XCTAssertTrue(summary.contains("Non-trainable params: 14,714,688"), summary)
    let weights = expected["weights"]!.object!
    let named = model.namedWeights()
    XCTAssertEqual(named.map(\.name).sorted(), weights.keys.sorted())
    for (name, value) in named {
      XCTAssertEqual(value.shape, weights[name]!["shape"]!.array!.map { $0.int! }, name)
      XCTAssertEqual(
        String(Self.checksum(value.scalars)), weights[name]!["checksum"]!.string!, "\(name) is Keras's, bit for bit")
    }
    let io = try VisionFixtures.arrays("vgg16_head.io.npz")
    XCTAssertLessThanOrEqual(maxRelativeDifference(try model.predict(io["x"]!).scalars, io["y"]!.scalars), 1e-5)
    // Feature extraction: the base alone predicts Keras's features.
    let base = try model.layer(named: "vgg16") as! Model
    XCTAssertLessThanOrEqual(maxRelativeDifference(try base.predict(io["x"]!).scalars, io["features"]!.scalars), 1e-4)
  }

  /// A model Keras trained (Rescaling, every augmentation layer, BatchNormalization,
  /// SeparableConv2D, Conv2DTranspose) predicts Keras's outputs with Keras's weights.
  func testTrainedVisionModelPredictsKeras() throws {
    let (model, _) = try VisionFixtures.model("vision_trained.json")
    let counts = try VisionFixtures.json("vision_trained.expected.json")["counts"]!
    XCTAssertEqual(model.parameterCount, counts["total"]!.int)
    XCTAssertEqual(model.trainableParameterCount, counts["trainable"]!.int)
    try WeightsFile.load(model, from: VisionFixtures.path("vision_trained.weights.npz"))
    let io = try VisionFixtures.arrays("vision_trained.io.npz")
    XCTAssertLessThanOrEqual(maxRelativeDifference(try model.predict(io["x"]!).scalars, io["y"]!.scalars), 1e-5)
  }

  /// `fit` from Keras's initial weights (DLP's seed gives them) with shuffle off ends at
  /// Keras's weights and moving statistics: the augmentation layers drew Keras's transforms at
  /// every step and BatchNormalization took Keras's steps.
  func checkFit(_ name: String, file: StaticString = #filePath, line: UInt = #line) throws {
    let expected = try VisionFixtures.json(name + ".expected.json")
    let seed = UInt64(expected["seed"]!.int!)
    let (model, compile) = try VisionFixtures.model(name + ".json", seed: seed)
    let arrays = try VisionFixtures.arrays(name + ".npz")
    for (k, v) in model.namedWeights() {
      XCTAssertEqual(v.scalars, arrays["initial/" + k]!.scalars, "initial \(k)", file: file, line: line)
    }
    try model.compile(keras: compile)
    let y = arrays["y"]!
    try model.fit(
      ArrayData(x: arrays["x"]!, y: y.reshaped(to: [y.shape[0], y.count / y.shape[0]])),
      options: FitOptions(
        epochs: expected["epochs"]!.int!, batchSize: expected["batch_size"]!.int!, shuffle: false, seed: seed))
    for (k, v) in model.namedWeights() {
      XCTAssertLessThanOrEqual(
        maxRelativeDifference(v.scalars, arrays["final/" + k]!.scalars), 2e-5, "final \(k)", file: file, line: line)
    }
  }

  func testAugmentationAndBatchNormalizationFitLikeKeras() throws { try checkFit("augment_fit") }

  func testConvBatchNormalizationFitLikeKeras() throws { try checkFit("conv_bn_fit") }
}

/// A functional model with a nested Sequential (its Conv2D frozen, a BatchNormalization), as
/// Keras saves it in a `.keras` file: nested weight groups (`layers/sequential/layers/...`),
/// non-trainable moving statistics, Adam's slots for the trainable variables only.
final class NestedKerasFileTests: XCTestCase {
  func testKerasNestedFileLoadsAndRoundTrips() throws {
    let path = VisionFixtures.path("nested.keras")
    let expected = try VisionFixtures.json("nested.expected.json")
    let (model, compile, contents) = try KerasArchive.read(path: path)
    try model.compile(keras: compile)
    XCTAssertEqual(model.parameterCount, expected["counts"]!["total"]!.int)
    XCTAssertEqual(model.trainableParameterCount, expected["counts"]!["trainable"]!.int)
    for (name, value) in model.namedWeights() {
      XCTAssertEqual(value.scalars, expected["weights"]![name]!.flattenedNumbers.map(Float.init), name)
    }
    XCTAssertTrue(try KerasArchive.loadOptimizerState(model, from: contents), "Keras's Adam slots fit the trainable variables")
    let io = try VisionFixtures.arrays("nested.io.npz")
    XCTAssertLessThanOrEqual(maxRelativeDifference(try model.predict(io["x"]!).scalars, io["y"]!.scalars), 1e-6)

    // DLP writes the same layout back.
    let copyPath = NSTemporaryDirectory() + "nested-\(UUID().uuidString).keras"
    defer { try? FileManager.default.removeItem(atPath: copyPath) }
    try KerasArchive.save(model, to: copyPath)
    let (copy, copyCompile, copyContents) = try KerasArchive.read(path: copyPath)
    XCTAssertEqual(copy.getWeights().map(\.scalars), model.getWeights().map(\.scalars))
    XCTAssertEqual(copy.trainableParameterCount, model.trainableParameterCount)
    try copy.compile(keras: copyCompile)
    XCTAssertTrue(try KerasArchive.loadOptimizerState(copy, from: copyContents))
  }
}

extension JSONValue {
  /// Every number of a nested array, in order.
  var flattenedNumbers: [Double] {
    if let d = double { return [d] }
    return (array ?? []).flatMap(\.flattenedNumbers)
  }
}
