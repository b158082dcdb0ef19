import XCTest

@testable import DLP

/// The functional API: merges, several inputs and outputs, shared layers, frozen layers.
final class FunctionalModelTests: XCTestCase {
  func gradientCheck(
    _ model: Model, losses: [any Loss], lossWeights: [Float]? = nil, data: ArrayData,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    try model.compile(optimizer: SGD(), losses: losses, lossWeights: lossWeights)
    GradientChecker(model: model, data: data).run(file: file, line: line)
  }

  // MARK: merges

  func testConcatenateAndAddGradients() throws {
    let x = Input(shape: [4])
    let left = try Dense(5, activation: .tanh)(x)
    let right = try Dense(5, activation: .sigmoid)(x)
    let sum = try Add()([left, right])
    let joined = try Concatenate()([left, sum, x])
    XCTAssertEqual(joined.shape, [14])
    let y = try Dense(3)(joined)
    let model = try Model(inputs: x, outputs: y)
    try gradientCheck(
      model, losses: [MeanSquaredError()],
      data: ArrayData(x: testTensor([4, 4], seed: 1), y: testTensor([4, 3], seed: 2)))
  }

  func testConcatenateOnInnerAxisGradients() throws {
    // (3, 2) and (3, 4) along the last axis; (2, 3) and (1, 3) along axis 1 (the first
    // per-sample axis).
    let a = Input(shape: [3, 2])
    let b = Input(shape: [3, 4])
    let c = Input(shape: [2, 3])
    let d = Input(shape: [1, 3])
    let last = try Concatenate(axis: -1)([a, b])
    let first = try Concatenate(axis: 1)([c, d])
    XCTAssertEqual(last.shape, [3, 6])
    XCTAssertEqual(first.shape, [3, 3])
    let merged = try Concatenate(axis: 2)([try Dense(3, activation: .tanh)(last), first])
    XCTAssertEqual(merged.shape, [3, 6])
    let y = try Dense(2)(try Flatten()(merged))
    let model = try Model(inputs: [a, b, c, d], outputs: [y])
    let data = try ArrayData(
      inputs: [
        testTensor([3, 3, 2], seed: 1), testTensor([3, 3, 4], seed: 2),
        testTensor([3, 2, 3], seed: 3), testTensor([3, 1, 3], seed: 4),
      ],
      targets: [testTensor([3, 2], seed: 5)])
    try gradientCheck(model, losses: [MeanSquaredError()], data: data)

    // Forward values: axis 1 puts c's rows first, then d's.
    let out = try Model(inputs: [c, d], outputs: [first]).predict([
      testTensor([2, 2, 3], seed: 6), testTensor([2, 1, 3], seed: 7),
    ])[0]
    let cs = testTensor([2, 2, 3], seed: 6).scalars
    let ds = testTensor([2, 1, 3], seed: 7).scalars
    XCTAssertEqual(out.scalars, Array(cs[0..<6] + ds[0..<3] + cs[6..<12] + ds[3..<6]))
  }

  func testMergeShapeMismatchNamesLayerAndShapes() throws {
    let a = Input(shape: [5], name: "left")
    let b = try Dense(6, name: "right_dense")(Input(shape: [5]))
    XCTAssertThrowsError(try Add(name: "sum")([a, b])) { e in
      let m = "\(e)"
      XCTAssertTrue(
        m.contains("Add 'sum'") && m.contains("(None, 5)") && m.contains("(None, 6)"), m)
      // The merge names the layers its inputs come from.
      XCTAssertTrue(m.contains("from layer 'left'") && m.contains("from layer 'right_dense'"), m)
    }
    let c = Input(shape: [2, 3])
    let d = Input(shape: [3, 3])
    XCTAssertThrowsError(try Concatenate(name: "cat")([c, d])) { e in
      let m = "\(e)"
      XCTAssertTrue(
        m.contains("Concatenate 'cat'") && m.contains("(None, 2, 3)") && m.contains("(None, 3, 3)"),
        m)
    }
    XCTAssertNoThrow(try Concatenate(axis: 1)([c, d]))
    XCTAssertThrowsError(try Concatenate(axis: 0)([c, d])) { e in
      XCTAssertTrue("\(e)".contains("batch axis"), "\(e)")
    }
    XCTAssertThrowsError(try Concatenate(axis: 3)([c, d]))
  }

  func testGraphErrors() throws {
    let a = Input(shape: [3], name: "a")
    let b = Input(shape: [3], name: "b")
    let y = try Dense(2)(a)
    XCTAssertThrowsError(try Model(inputs: [a, b], outputs: [y])) { e in
      XCTAssertTrue("\(e)".contains("'b' is not connected"), "\(e)")
    }
    XCTAssertThrowsError(try Model(inputs: [b], outputs: [y])) { e in
      XCTAssertTrue(
        "\(e)".contains("'a'") && "\(e)".contains("not among the model's inputs"), "\(e)")
    }
    // A cycle can only come from a file: two layers feeding each other.
    let doc = try JSONValue.parse(
      """
      {"class_name": "Functional", "config": {"name": "loop", "layers": [
        {"class_name": "InputLayer", "name": "in", "config": {"name": "in", "batch_shape": [null, 3]}},
        {"class_name": "Add", "name": "p", "config": {"name": "p"}, "inbound_nodes": [{"args": [[
          {"class_name": "__keras_tensor__", "config": {"keras_history": ["in", 0, 0]}},
          {"class_name": "__keras_tensor__", "config": {"keras_history": ["q", 0, 0]}}]]}]},
        {"class_name": "Dense", "name": "q", "config": {"name": "q", "units": 3}, "inbound_nodes": [{"args": [
          {"class_name": "__keras_tensor__", "config": {"keras_history": ["p", 0, 0]}}]}]}],
        "input_layers": [["in", 0, 0]], "output_layers": [["q", 0, 0]]}}
      """)
    XCTAssertThrowsError(try KerasModelReader.read(doc)) { e in
      XCTAssertTrue("\(e)".contains("cycle"), "\(e)")
    }
  }

  // MARK: several inputs and outputs

  /// The book's ticket model: three inputs, two outputs with their own losses and weights.
  func ticketModel() throws -> Model {
    let title = Input(shape: [6], name: "title")
    let body = Input(shape: [8], name: "text_body")
    let tags = Input(shape: [3], name: "tags")
    let features = try Dense(8, activation: .relu, name: "features")(
      Concatenate()([title, body, tags]))
    let priority = try Dense(1, activation: .sigmoid, name: "priority")(features)
    let department = try Dense(4, activation: .softmax, name: "department")(features)
    return try Model(inputs: [title, body, tags], outputs: [priority, department], seed: 2)
  }

  func ticketData(_ n: Int) throws -> ArrayData {
    let title = testTensor([n, 6], seed: 1)
    let body = testTensor([n, 8], seed: 2)
    let tags = testTensor([n, 3], seed: 3)
    // Targets that depend on the inputs, so there is something to learn.
    var priority: [Float] = []
    var department: [Float] = []
    for i in 0..<n {
      let s = title.scalars[i * 6] + body.scalars[i * 8]
      priority.append(s > 0 ? 0.9 : 0.1)
      department.append(
        Float(tags.scalars[i * 3] > 0 ? 1 : 0) + Float(tags.scalars[i * 3 + 1] > 0 ? 2 : 0))
    }
    return try ArrayData(
      inputs: [title, body, tags],
      targets: [
        Tensor(uncheckedShape: [n, 1], scalars: priority),
        Tensor(uncheckedShape: [n, 1], scalars: department),
      ])
  }

  func testMultiOutputGradientsWithLossWeights() throws {
    try gradientCheck(
      ticketModel(), losses: [MeanSquaredError(), SparseCategoricalCrossentropy()],
      lossWeights: [1, 0.2], data: ticketData(4))
  }

  func testMultiInputMultiOutputTrains() throws {
    let model = try ticketModel()
    try model.compile(
      optimizer: RMSprop(learningRate: 0.01),
      losses: [MeanSquaredError(), SparseCategoricalCrossentropy()],
      metrics: ["accuracy"], lossWeights: [1, 0.2])
    let data = try ticketData(256)
    let before = try model.evaluate(data)
    let history = try model.fit(data, options: FitOptions(epochs: 15, batchSize: 32))
    let after = try model.evaluate(data)
    for key in ["loss", "priority_loss", "department_loss"] {
      XCTAssertNotNil(history.history[key], "history has \(key): \(history.history.keys.sorted())")
      XCTAssertLessThan(after[key]!, before[key]! * 0.8, key)
    }
    // The total is the weighted sum of the outputs' losses.
    XCTAssertEqual(
      after["loss"]!, after["priority_loss"]! + 0.2 * after["department_loss"]!, accuracy: 1e-4)
  }

  // MARK: shared layers

  func testSharedLayerGradientsAreSummed() throws {
    let a = Input(shape: [4])
    let b = Input(shape: [4])
    let shared = try Dense(3, activation: .tanh, name: "shared")
    let merged = try Add()([try shared(a), try shared(b)])
    let y = try Dense(2)(merged)
    let model = try Model(inputs: [a, b], outputs: [y])
    XCTAssertEqual(model.layers.filter { $0 === shared }.count, 1)
    XCTAssertEqual(model.parameterCount, 4 * 3 + 3 + 3 * 2 + 2)
    try gradientCheck(
      model, losses: [MeanSquaredError()],
      data: ArrayData(
        inputs: [testTensor([3, 4], seed: 1), testTensor([3, 4], seed: 2)],
        targets: [testTensor([3, 2], seed: 3)]))
  }

  func testSharedConvolutionGradients() throws {
    // One Conv2D applied to two images: each application keeps its own im2col scratch.
    let a = Input(shape: [5, 5, 2])
    let b = Input(shape: [5, 5, 2])
    let conv = try Conv2D(2, kernelSize: 3, activation: .tanh)
    let pooled = try Concatenate()([try Flatten()(try conv(a)), try Flatten()(try conv(b))])
    let model = try Model(inputs: [a, b], outputs: [try Dense(2)(pooled)])
    try gradientCheck(
      model, losses: [MeanSquaredError()],
      data: ArrayData(
        inputs: [testTensor([2, 5, 5, 2], seed: 1), testTensor([2, 5, 5, 2], seed: 2)],
        targets: [testTensor([2, 2], seed: 3)]))
  }

  func testSharedLayerTrainsAndStaysShared() throws {
    let a = Input(shape: [4])
    let b = Input(shape: [4])
    let shared = try Dense(6, activation: .relu)
    let y = try Dense(1)(try Add()([try shared(a), try shared(b)]))
    let model = try Model(inputs: [a, b], outputs: [y])
    try model.compile(optimizer: RMSprop(learningRate: 0.01), losses: [MeanSquaredError()])
    let xa = testTensor([128, 4], seed: 1)
    let xb = testTensor([128, 4], seed: 2)
    let target = Tensor(
      uncheckedShape: [128, 1],
      scalars: (0..<128).map { xa.scalars[$0 * 4] - xb.scalars[$0 * 4 + 1] })
    let data = try ArrayData(inputs: [xa, xb], targets: [target])
    let before = try model.evaluate(data)["loss"]!
    _ = try model.fit(data, options: FitOptions(epochs: 20, batchSize: 16))
    XCTAssertLessThan(try model.evaluate(data)["loss"]!, before * 0.5)
    // Swapping the inputs through a symmetric model gives the same output.
    let sym = try Model(inputs: [a, b], outputs: [try Add()([try shared(a), try shared(b)])])
    let p1 = try sym.predict([xa, xb])[0]
    let p2 = try sym.predict([xb, xa])[0]
    for (u, v) in zip(p1.scalars, p2.scalars) { XCTAssertEqual(u, v, accuracy: 1e-5) }
  }

  // MARK: frozen layers

  /// The book's feature extraction, then fine-tuning: a convolutional base and a dense head.
  func testFeatureExtractionThenFineTuning() throws {
    let conv1 = try Conv2D(4, kernelSize: 3, activation: .relu, name: "base_conv1")
    let conv2 = try Conv2D(4, kernelSize: 3, activation: .relu, name: "base_conv2")
    let head = try Dense(3, activation: .softmax, name: "head")
    let model = try Sequential(
      [InputLayer(shape: [8, 8, 1]), conv1, MaxPooling2D(2), conv2, Flatten(), head], seed: 1)
    let x = testTensor([96, 8, 8, 1], seed: 4)
    let y = Tensor(uncheckedShape: [96, 1], scalars: (0..<96).map { Float(($0 * 7) % 3) })
    let data = try ArrayData(x: x, y: y)

    conv1.trainable = false
    conv2.trainable = false
    model.updateTrainableRanges()
    XCTAssertEqual(model.trainableParameterCount, head.parameterCount)
    try model.compile(
      optimizer: RMSprop(learningRate: 0.01), losses: [SparseCategoricalCrossentropy()])
    let base1 = conv1.getWeights().map(\.scalars)
    let base2 = conv2.getWeights().map(\.scalars)
    let head0 = head.getWeights().map(\.scalars)
    _ = try model.fit(data, options: FitOptions(epochs: 2, batchSize: 16))
    XCTAssertEqual(conv1.getWeights().map(\.scalars), base1, "frozen conv1 kept its weights")
    XCTAssertEqual(conv2.getWeights().map(\.scalars), base2, "frozen conv2 kept its weights")
    XCTAssertNotEqual(head.getWeights().map(\.scalars), head0, "the head trained")

    // Fine-tuning: unfreeze the top of the base, recompile with a low rate, train on.
    conv2.trainable = true
    model.updateTrainableRanges()
    XCTAssertEqual(model.trainableParameterCount, head.parameterCount + conv2.parameterCount)
    try model.compile(
      optimizer: RMSprop(learningRate: 1e-3), losses: [SparseCategoricalCrossentropy()])
    _ = try model.fit(data, options: FitOptions(epochs: 1, batchSize: 16))
    XCTAssertEqual(conv1.getWeights().map(\.scalars), base1, "conv1 still frozen")
    XCTAssertNotEqual(conv2.getWeights().map(\.scalars), base2, "unfrozen conv2 changed")

    // The frozen flag survives the Keras JSON round trip.
    let (copy, _) = try KerasModelReader.read(JSONValue.parse(model.toJSON()))
    XCTAssertFalse(try copy.layer(named: "base_conv1").trainable)
    XCTAssertTrue(try copy.layer(named: "base_conv2").trainable)
  }

  // MARK: introspection

  /// A small convnet; `smooth` swaps relu and max pooling for tanh and average pooling, so
  /// finite differences see no kinks.
  func convnet(smooth: Bool = false) throws -> Model {
    try Sequential(
      [
        InputLayer(shape: [8, 8, 2]),
        Conv2D(4, kernelSize: 3, activation: smooth ? .tanh : .relu, name: "c1"),
        smooth ? AveragePooling2D(2, name: "p1") : MaxPooling2D(2, name: "p1"),
        Conv2D(3, kernelSize: 2, activation: .tanh, name: "c2"), Flatten(),
        Dense(3, activation: .softmax, name: "out"),
      ], seed: 4)
  }

  func testIntermediateModelSharesLayersAndWeights() throws {
    let model = try convnet()
    let x = testTensor([3, 8, 8, 2], seed: 1)
    let probe = try model.intermediateModel(outputs: ["c1", "p1", "out"])
    XCTAssertEqual(probe.outputs.map(\.shape), [[6, 6, 4], [3, 3, 4], [3]])
    let acts = try probe.predict([x])
    XCTAssertEqual(acts[2].scalars, try model.predict(x).scalars)
    // c1 is relu: non-negative; p1 is the 2x2 max of c1.
    let c1 = acts[0]
    let p1 = acts[1]
    XCTAssertEqual(p1.scalars[0], max(c1.scalars[0], c1.scalars[4], c1.scalars[24], c1.scalars[28]))

    // Same weights, not a copy: training the model changes what the probe sees.
    try model.compile(
      optimizer: RMSprop(learningRate: 0.05), losses: [SparseCategoricalCrossentropy()])
    _ = try model.fit(
      ArrayData(x: testTensor([32, 8, 8, 2], seed: 2), y: labels(32, classes: 3, seed: 3)),
      options: FitOptions(epochs: 1, batchSize: 8))
    XCTAssertEqual(try probe.predict([x])[2].scalars, try model.predict(x).scalars)
    XCTAssertNotEqual(try probe.predict([x])[2].scalars, acts[2].scalars)
    XCTAssertEqual(
      model.parameters.snapshot(), model.layers.flatMap { $0.getWeights().flatMap(\.scalars) })

    XCTAssertThrowsError(try model.intermediateModel(outputs: ["nope"]))
  }

  func testIntermediateModelOfSharedLayerIsAmbiguous() throws {
    let a = Input(shape: [2])
    let b = Input(shape: [2])
    let shared = try Dense(2, name: "shared")
    let model = try Model(
      inputs: [a, b], outputs: [try Add(name: "sum")([try shared(a), try shared(b)])])
    XCTAssertThrowsError(try model.intermediateModel(outputs: ["shared"])) { e in
      XCTAssertTrue("\(e)".contains("shared layer"), "\(e)")
    }
    XCTAssertNoThrow(try model.intermediateModel(outputs: ["sum"]))
  }

  func testIntermediateModelKeepsOnlyTheInputsItNeeds() throws {
    let a = Input(shape: [3], name: "in_a")
    let b = Input(shape: [3], name: "in_b")
    let left = try Dense(2, name: "left")(a)
    let model = try Model(inputs: [a, b], outputs: [try Add()([left, try Dense(2)(b)])])
    let probe = try model.intermediateModel(outputs: ["left"])
    XCTAssertEqual(probe.inputs.map(\.node.layer.name), ["in_a"])
    let x = testTensor([2, 3], seed: 1)
    let w = try model.layer(named: "left").getWeights()
    let expected = try Tensor.matmul(x, w[0]).scalars.enumerated().map { $1 + w[1].scalars[$0 % 2] }
    for (u, v) in zip(try probe.predict(x).scalars, expected) {
      XCTAssertEqual(u, v, accuracy: 1e-5)
    }
  }

  func testInputGradientMatchesFiniteDifferences() throws {
    let model = try convnet(smooth: true)
    let x = testTensor([2, 8, 8, 2], seed: 7)
    for (layer, unit) in [("c2", 1), ("c2", nil), ("out", 2)] as [(String, Int?)] {
      let probe = try model.intermediateModel(outputs: [layer])
      let g = try probe.inputGradient(x, unit: unit)
      XCTAssertEqual(g.shape, x.shape)
      // Objective of sample s, computed from predict.
      func objective(_ t: Tensor, _ s: Int) throws -> Double {
        let y = try probe.predict(t)
        let width = y.rowWidth
        let channels = y.shape.last!
        var sum = 0.0
        var count = 0
        for i in 0..<width where unit == nil || i % channels == unit! {
          sum += Double(y.scalars[s * width + i])
          count += 1
        }
        return sum / Double(count)
      }
      let eps: Float = 1e-2
      let width = x.rowWidth
      for j in stride(from: 0, to: x.scalars.count, by: 7) {
        var plus = x
        var minus = x
        plus.scalars[j] += eps
        minus.scalars[j] -= eps
        let s = j / width
        let numeric = (try objective(plus, s) - objective(minus, s)) / Double(2 * eps)
        let scale = max(1e-3, abs(numeric), Double(abs(g.scalars[j])))
        XCTAssertLessThanOrEqual(
          abs(numeric - Double(g.scalars[j])) / scale, 3e-2,
          "\(layer) unit \(String(describing: unit)) element \(j): \(g.scalars[j]) vs \(numeric)")
      }
    }
    // The model's weights are unchanged by the probe, and gradient ascent raises the objective.
    let before = model.parameters.snapshot()
    let ascent = try InputGradient(
      model: model.intermediateModel(outputs: ["c2"]), unit: 0, capacity: 1)
    var image = testTensor([1, 8, 8, 2], seed: 9, scale: 0.1)
    let start = try ascent.gradient(image).objective[0]
    for _ in 0..<20 {
      let g = try ascent.gradient(image).gradient
      for i in image.scalars.indices { image.scalars[i] += 0.5 * g.scalars[i] }
    }
    XCTAssertGreaterThan(try ascent.gradient(image).objective[0], start + 0.1)
    XCTAssertEqual(model.parameters.snapshot(), before)
    XCTAssertThrowsError(try model.inputGradient(x, unit: 3))
  }
}
