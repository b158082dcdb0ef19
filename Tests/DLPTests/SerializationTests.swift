import XCTest

@testable import DLP

final class SerializationTests: XCTestCase {
  func testSequentialRoundTripKeepsConfigAndCounts() throws {
    let m = try Sequential(
      [
        InputLayer(shape: [20]),
        Dense(8, activation: .elu, useBias: false, kernelInitializer: .heNormal, kernelRegularizer: .l2(0.001), name: "h"),
        Dropout(0.25), Dense(3, activation: .softmax, kernelRegularizer: .l1l2(l1: 0.01, l2: 0.02)),
      ])
    try m.compile(optimizer: Adam(learningRate: 0.01), losses: [CategoricalCrossentropy()], metrics: ["accuracy"])
    let (back, cc) = try KerasModelReader.read(JSONValue.parse(m.toJSON()))
    XCTAssertEqual(back.parameterCount, 20 * 8 + 8 * 3 + 3)
    XCTAssertEqual(back.layers.map(\.className), ["InputLayer", "Dense", "Dropout", "Dense"])
    let h = try back.layer(named: "h") as! Dense
    XCTAssertEqual(h.activation, .elu)
    XCTAssertFalse(h.useBias)
    XCTAssertEqual(h.kernelInitializer, .heNormal)
    XCTAssertEqual(h.kernelRegularizer, .l2(0.001))
    XCTAssertEqual(cc?.losses.map(\.name), ["categorical_crossentropy"])
    XCTAssertEqual(cc?.metrics.map { $0.map { if case .name(let n) = $0 { n } else { "" } } }, [["accuracy"]])
    let o = try KerasObjects.parseOptimizer(cc?.optimizer) as! Adam
    XCTAssertEqual(o.learningRate, 0.01, accuracy: 1e-9)
    XCTAssertEqual(back.toJSON(), try KerasModelReader.read(JSONValue.parse(back.toJSON())).0.toJSON())
  }

  func testFunctionalRoundTripWithSharedLayer() throws {
    let x = Input(shape: [3], name: "in_a")
    let shared = try Dense(3, activation: .tanh, name: "shared")
    let b = try shared(try shared(x))
    let out = try Dense(1, name: "out")(b)
    let m = try Model(inputs: x, outputs: out)
    XCTAssertEqual(m.parameterCount, (3 * 3 + 3) + 4)
    XCTAssertEqual(m.nodes.count, 4)
    let (back, _) = try KerasModelReader.read(JSONValue.parse(m.toJSON()))
    XCTAssertEqual(back.nodes.count, m.nodes.count)
    XCTAssertEqual(back.parameterCount, m.parameterCount)
  }

  func testMalformedDocumentsGiveClearErrors() {
    func message(_ text: String) -> String {
      do {
        _ = try KerasModelReader.read(JSONValue.parse(text))
        return "no error"
      } catch { return "\(error)" }
    }
    XCTAssertTrue(message("{not json").contains("not valid JSON"))
    XCTAssertTrue(message(#"{"class_name": "Sequential"}"#).contains("'config'"))
    XCTAssertTrue(
      message(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,3]}},{"class_name":"LSTMv9","config":{"name":"x"}}]}}"#)
        .contains("unsupported layer class 'LSTMv9'"))
    XCTAssertTrue(
      message(#"{"class_name":"Sequential","config":{"layers":[{"class_name":"InputLayer","config":{"batch_shape":[null,3]}},{"class_name":"Dense","config":{"name":"d","units":"many"}}]}}"#)
        .contains("layer 'd' (Dense): key 'units'"))
    XCTAssertTrue(message(String(repeating: "[", count: 5000)).contains("nesting"))
  }

  func testFunctionalCycleIsRejected() {
    let doc = #"""
      {"class_name": "Functional", "config": {"name": "f", "layers": [
        {"class_name": "InputLayer", "name": "i", "config": {"name": "i", "batch_shape": [null, 2]}, "inbound_nodes": []},
        {"class_name": "Dense", "name": "a", "config": {"name": "a", "units": 2}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["b", 0, 0]}}]}]},
        {"class_name": "Dense", "name": "b", "config": {"name": "b", "units": 2}, "inbound_nodes": [{"args": [{"class_name": "__keras_tensor__", "config": {"keras_history": ["a", 0, 0]}}]}]}],
        "input_layers": [["i", 0, 0]], "output_layers": [["b", 0, 0]]}}
      """#
    XCTAssertThrowsError(try KerasModelReader.read(JSONValue.parse(doc))) { XCTAssertTrue("\($0)".contains("cycle"), "\($0)") }
  }

  func testShapeMismatchNamesBothShapes() {
    XCTAssertThrowsError(
      try Sequential([InputLayer(shape: [3]), Dense(4), Flatten()]).predict(Tensor(zeros: [2, 5]))
    ) { XCTAssertTrue("\($0)".contains("(None, 3)") && "\($0)".contains("(None, 5)"), "\($0)") }
  }

  func testWeightsRoundTripThroughNPZ() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(4, name: "d0"), Dense(2, name: "d1")], seed: 1)
    let path = NSTemporaryDirectory() + "dlp-weights-\(getpid()).npz"
    try WeightsFile.save(m, to: path)
    let names = try WeightsFile.read(path).keys.sorted()
    XCTAssertEqual(names, ["d0/bias", "d0/kernel", "d1/bias", "d1/kernel"])
    let other = try Sequential([InputLayer(shape: [3]), Dense(4, name: "d0"), Dense(2, name: "d1")], seed: 2)
    XCTAssertNotEqual(other.parameters.snapshot(), m.parameters.snapshot())
    try WeightsFile.load(other, from: path)
    XCTAssertEqual(other.parameters.snapshot(), m.parameters.snapshot())
  }

  func testSummaryHasKerasParameterCounts() throws {
    let m = try Sequential([InputLayer(shape: [784]), Dense(512, activation: .relu, name: "dense"), Dense(10, activation: .softmax, name: "dense_1")])
    let s = m.summary()
    XCTAssertTrue(s.contains("401,920"), s)
    XCTAssertTrue(s.contains("5,130"), s)
    XCTAssertTrue(s.contains("Total params: 407,050"), s)
  }
}
