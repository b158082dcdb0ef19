import XCTest

@testable import DLP

/// Models used as layers: inlined graphs that keep their own names, trainable flag, summary
/// row and nested JSON.
final class NestedModelTests: XCTestCase {
  func base(name: String = "base") throws -> Model {
    try Sequential(
      [
        InputLayer(shape: [6, 6, 1]), Conv2D(2, kernelSize: 3, activation: .relu, name: "conv"),
        BatchNormalization(name: "bn"),
      ],
      name: name)
  }

  func testSequentialWithABaseCountsNamesAndFreezes() throws {
    let b = try base()
    let m = try Sequential([b, Flatten(name: "flatten"), Dense(3, name: "dense")], name: "outer", seed: 1)
    XCTAssertEqual(m.inputs[0].shape, [6, 6, 1])
    XCTAssertEqual(m.topLevelLayers.map(\.name), ["base", "flatten", "dense"])
    XCTAssertEqual(m.layers.dropFirst().map(\.name), ["conv", "bn", "flatten", "dense"])
    XCTAssertEqual(
      m.namedWeights().map(\.name),
      [
        "base/conv/kernel", "base/conv/bias", "base/bn/gamma", "base/bn/beta", "base/bn/moving_mean",
        "base/bn/moving_variance", "dense/kernel", "dense/bias",
      ])
    XCTAssertEqual(m.parameterCount, 20 + 8 + 99)
    XCTAssertEqual(m.trainableParameterCount, 20 + 4 + 99)
    b.trainable = false
    XCTAssertEqual(m.trainableParameterCount, 99)
    let summary = m.summary()
    XCTAssertTrue(summary.contains("base (Sequential)"), summary)
    XCTAssertTrue(summary.contains("Total params: 127"), summary)
    XCTAssertTrue(summary.contains("Trainable params: 99"), summary)
    XCTAssertTrue(summary.contains("Non-trainable params: 28"), summary)
    XCTAssertTrue(try m.layer(named: "base") === b)
    let conv = try b.layer(named: "conv")
    XCTAssertTrue(try m.layer(named: "base/conv") === conv)
    XCTAssertTrue(try m.layer(named: "conv") === conv)

    // Keras: a layer set trainable inside a frozen model stays frozen.
    conv.trainable = true
    XCTAssertEqual(m.trainableParameterCount, 99)
    b.trainable = true
    XCTAssertEqual(m.trainableParameterCount, 123)
  }

  /// Training with the base frozen changes only the head (and not the base's statistics: its
  /// BatchNormalization is frozen too, so it runs in inference mode).
  func testFrozenBaseKeepsItsWeightsInFit() throws {
    let b = try base()
    let m = try Sequential([b, Flatten(), Dense(3, name: "head")], seed: 2)
    b.trainable = false
    try m.compile(optimizer: SGD(learningRate: 0.1), losses: [MeanSquaredError()])
    let before = b.getWeights().map(\.scalars)
    let head = try m.layer(named: "head").getWeights().map(\.scalars)
    try m.fit(
      try ArrayData(x: testTensor([8, 6, 6, 1], seed: 1), y: testTensor([8, 3], seed: 2)),
      options: FitOptions(epochs: 2, batchSize: 4))
    XCTAssertEqual(b.getWeights().map(\.scalars), before)
    XCTAssertNotEqual(try m.layer(named: "head").getWeights().map(\.scalars), head)
  }

  /// The same model applied twice is one set of weights (like a shared layer), listed once.
  func testModelAppliedTwiceSharesWeights() throws {
    let inner = try Sequential([InputLayer(shape: [4]), Dense(3, name: "d")], name: "inner")
    let a = Input(shape: [4], name: "a")
    let c = Input(shape: [4], name: "c")
    let merged = try Concatenate(name: "cat")([try inner(a), try inner(c)])
    let m = try Model(inputs: [a, c], outputs: [try Dense(1, name: "out")(merged)], name: "siamese")
    XCTAssertEqual(m.parameterCount, 15 + 7)
    XCTAssertEqual(m.topLevelLayers.map(\.name), ["a", "inner", "c", "cat", "out"])
    let summary = m.summary()
    XCTAssertTrue(summary.contains("inner[0][0], inner[1][0]"), summary)
    let x = testTensor([2, 4], seed: 3)
    let z = try inner.predict(x)
    let concat = try m.intermediateModel(outputs: ["cat"]).predict([x, x])[0]
    XCTAssertEqual(Array(concat.scalars[0..<3]), Array(z.scalars[0..<3]))
    XCTAssertEqual(Array(concat.scalars[3..<6]), Array(z.scalars[0..<3]))
    try roundTrip(m, [x, testTensor([2, 4], seed: 4)])
  }

  func roundTrip(_ model: Model, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line) throws {
    let json = model.toJSON()
    let (copy, _) = try KerasModelReader.read(JSONValue.parse(json))
    XCTAssertEqual(copy.topLevelLayers.map(\.name), model.topLevelLayers.map(\.name), file: file, line: line)
    XCTAssertEqual(copy.summary(), model.summary(), file: file, line: line)
    XCTAssertEqual(KerasModelWriter.json(copy)["config"], try JSONValue.parse(json)["config"], file: file, line: line)
    try copy.loadNamedWeights(Dictionary(uniqueKeysWithValues: model.namedWeights()), source: "original")
    XCTAssertEqual(
      try copy.predict(inputs).map(\.scalars), try model.predict(inputs).map(\.scalars), file: file, line: line)
  }

  func testNestedJSONRoundTripsAndKeepsTrainableFlags() throws {
    let b = try base(name: "convbase")
    let m = try Sequential([b, Flatten(), Dense(2)], seed: 4)
    b.trainable = false
    try roundTrip(m, [testTensor([3, 6, 6, 1], seed: 5)])
    let (copy, _) = try KerasModelReader.read(JSONValue.parse(m.toJSON()))
    XCTAssertEqual(copy.trainableParameterCount, m.trainableParameterCount)
    XCTAssertFalse(try copy.layer(named: "convbase").trainable)
    // Fine-tuning: the base trainable, its first layer not.
    b.trainable = true
    try b.layer(named: "conv").trainable = false
    let (tuned, _) = try KerasModelReader.read(JSONValue.parse(m.toJSON()))
    XCTAssertEqual(tuned.trainableParameterCount, 4 + 66)
  }

  /// Keras's variable paths for a base built with its own Input carry no model prefix
  /// (`block1_conv1/kernel`): such names load too.
  func testWeightsLoadByKerasBareNames() throws {
    let m = try Sequential([try base(), Flatten(), Dense(2, name: "head")], seed: 5)
    var bare: [String: Tensor] = [:]
    for (name, value) in m.namedWeights() { bare[name.hasPrefix("base/") ? String(name.dropFirst(5)) : name] = value }
    let other = try Sequential([try base(), Flatten(), Dense(2, name: "head")], seed: 6)
    try other.loadNamedWeights(bare, source: "bare")
    XCTAssertEqual(other.getWeights().map(\.scalars), m.getWeights().map(\.scalars))
  }

  func testMismatchedCallIsAClearError() throws {
    let b = try base()
    XCTAssertThrowsError(try b(Input(shape: [5, 5, 1]))) { e in
      XCTAssertTrue("\(e)".contains("model 'base' expects input"), "\(e)")
    }
  }
}
