import XCTest

@testable import DLP

/// Keras JSON for the convolution, pooling, merge and reshape layers: configs round-trip,
/// Keras's own configs load, and bad configs fail naming the layer and the key.
final class ConvSerializationTests: XCTestCase {
  /// Writes the model, reads it back, and checks the layers' configs, weight shapes and
  /// predictions agree.
  func roundTrip(
    _ model: Model, _ inputs: [Tensor], file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let json = model.toJSON()
    let (copy, _) = try KerasModelReader.read(JSONValue.parse(json))
    XCTAssertEqual(
      copy.layers.map(\.className), model.layers.map(\.className), file: file, line: line)
    for (a, b) in zip(model.layers, copy.layers) {
      XCTAssertEqual(a.name, b.name, file: file, line: line)
      XCTAssertEqual(
        JSONValue.object(a.config()), JSONValue.object(b.config()), "config of \(a.name)",
        file: file, line: line)
      XCTAssertEqual(a.outputShape, b.outputShape, a.name, file: file, line: line)
      XCTAssertEqual(
        a.weightSpecs.map(\.shape), b.weightSpecs.map(\.shape), a.name, file: file, line: line)
    }
    // The copy is not compiled: compare the model configs.
    XCTAssertEqual(
      KerasModelWriter.json(copy)["config"], try JSONValue.parse(json)["config"],
      "writing the copy gives the same config", file: file,
      line: line)
    try copy.loadNamedWeights(
      Dictionary(uniqueKeysWithValues: model.namedWeights()), source: "original")
    let p = try model.predict(inputs)
    let q = try copy.predict(inputs)
    XCTAssertEqual(p.map(\.scalars), q.map(\.scalars), file: file, line: line)
  }

  func testConvAndPoolingLayersRoundTrip() throws {
    let model = try Sequential(
      [
        InputLayer(shape: [9, 8, 2]),
        Conv2D(
          4, kernelSize: [3, 2], strides: [2, 1], padding: .same, activation: .relu,
          kernelInitializer: .heNormal,
          biasInitializer: .constant(0.1), kernelRegularizer: .l2(0.01), biasRegularizer: .l1(0.02)),
        MaxPooling2D(poolSize: [2, 3], strides: [1, 2], padding: .same),
        AveragePooling2D(2),
        Conv2D(3, kernelSize: 1, useBias: false),
        GlobalMaxPooling2D(keepdims: true),
        Reshape([-1]),
        Dense(2, activation: .softmax),
      ])
    try roundTrip(model, [testTensor([2, 9, 8, 2], seed: 1)])
  }

  func testGlobalAverageAndFunctionalMergesRoundTrip() throws {
    let image = Input(shape: [6, 6, 1], name: "image")
    let meta = Input(shape: [3], name: "meta")
    let features = try GlobalAveragePooling2D()(
      try Conv2D(3, kernelSize: 3, activation: .tanh)(image))
    let shared = try Dense(3, name: "shared")
    let left = try shared(features)
    let right = try shared(meta)
    let sum = try Add()([left, right])
    let joined = try Concatenate(axis: 1)([sum, meta])
    let grid = try Reshape([2, 3])(joined)
    let out1 = try Dense(2, activation: .softmax, name: "kind")(try Flatten()(grid))
    let out2 = try Dense(1, name: "score")(joined)
    let model = try Model(inputs: [image, meta], outputs: [out1, out2], name: "two_heads")
    try model.compile(
      optimizer: RMSprop(), losses: [SparseCategoricalCrossentropy(), MeanSquaredError()],
      lossWeights: [1, 0.5])
    try roundTrip(model, [testTensor([2, 6, 6, 1], seed: 1), testTensor([2, 3], seed: 2)])
    let (copy, compile) = try KerasModelReader.read(JSONValue.parse(model.toJSON()))
    XCTAssertEqual(copy.outputs.map(\.node.layer.name), ["kind", "score"])
    XCTAssertEqual(compile?.lossWeights, [1, 0.5])
  }

  /// A Conv2D and pooling config exactly as Keras 3.15 writes it.
  func testKerasConfigsLoad() throws {
    let doc = try JSONValue.parse(
      """
      {"module": "keras", "class_name": "Sequential", "config": {"name": "s", "layers": [
        {"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 12, 11, 2], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}},
        {"module": "keras.layers", "class_name": "Conv2D", "config": {"name": "conv2d", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}}, "filters": 4, "kernel_size": [3, 3], "strides": [2, 2], "padding": "same", "data_format": "channels_last", "dilation_rate": [1, 1], "groups": 1, "activation": "relu", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null}}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}}, "kernel_regularizer": null, "bias_regularizer": null, "activity_regularizer": null, "kernel_constraint": null, "bias_constraint": null}},
        {"module": "keras.layers", "class_name": "MaxPooling2D", "config": {"name": "max_pooling2d", "trainable": true, "pool_size": [2, 2], "padding": "same", "strides": [1, 1], "data_format": "channels_last"}},
        {"module": "keras.layers", "class_name": "AveragePooling2D", "config": {"name": "average_pooling2d", "trainable": false, "pool_size": 2, "padding": "valid", "strides": null, "data_format": null}},
        {"module": "keras.layers", "class_name": "GlobalAveragePooling2D", "config": {"name": "gap", "data_format": "channels_last", "keepdims": false}}
      ]}}
      """)
    let (model, _) = try KerasModelReader.read(doc)
    let conv = try XCTUnwrap(model.layers[1] as? Conv2D)
    XCTAssertEqual(conv.outputShape, [6, 6, 4])
    XCTAssertEqual(conv.activation, .relu)
    XCTAssertEqual(conv.weightSpecs.map(\.shape), [[3, 3, 2, 4], [4]])
    let avg = try XCTUnwrap(model.layers[3] as? AveragePooling2D)
    XCTAssertEqual(avg.strides.0, 2)
    XCTAssertFalse(avg.trainable)
    XCTAssertEqual(model.outputs[0].shape, [4])
  }

  func testBadConfigsNameLayerAndKey() throws {
    func expectError(_ cls: String, _ config: String, mentions: [String], line: UInt = #line) {
      XCTAssertThrowsError(
        try LayerRegistry.make(className: cls, config: JSONValue.parse(config)), line: line
      ) { e in
        for m in mentions {
          XCTAssertTrue("\(e)".contains(m), "'\(m)' missing from: \(e)", line: line)
        }
      }
    }
    expectError("Conv2D", #"{"name": "c", "kernel_size": 3}"#, mentions: ["'c'", "filters"])
    expectError(
      "Conv2D", #"{"name": "c", "filters": 2, "kernel_size": "x"}"#,
      mentions: ["'c'", "kernel_size"])
    expectError(
      "Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "padding": "causal"}"#,
      mentions: ["'c'", "padding"])
    expectError(
      "Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "dilation_rate": 2}"#,
      mentions: ["'c'", "dilation_rate"])
    expectError(
      "Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "groups": 2}"#,
      mentions: ["'c'", "groups"])
    expectError(
      "Conv2D", #"{"name": "c", "filters": 2, "kernel_size": 3, "data_format": "channels_first"}"#,
      mentions: ["'c'", "data_format"])
    expectError(
      "Conv2D",
      #"{"name": "c", "filters": 2, "kernel_size": 3, "kernel_constraint": {"class_name": "MaxNorm"}}"#,
      mentions: ["'c'", "kernel_constraint"])
    expectError(
      "MaxPooling2D", #"{"name": "m", "pool_size": [2, 2, 2]}"#, mentions: ["'m'", "pool_size"])
    expectError(
      "AveragePooling2D", #"{"name": "a", "strides": "x"}"#, mentions: ["'a'", "strides"])
    expectError(
      "GlobalMaxPooling2D", #"{"name": "g", "keepdims": 3}"#, mentions: ["'g'", "keepdims"])
    expectError("Concatenate", #"{"name": "cat", "axis": "last"}"#, mentions: ["'cat'", "axis"])
    expectError(
      "Reshape", #"{"name": "r", "target_shape": "x"}"#, mentions: ["'r'", "target_shape"])
    expectError(
      "Reshape", #"{"name": "r", "target_shape": [-1, -1]}"#, mentions: ["'r'", "target_shape"])
  }
}
