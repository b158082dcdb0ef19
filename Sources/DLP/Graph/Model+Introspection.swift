/// Looking inside a trained model (Chollet ch. 9): the activations of inner layers, and
/// gradients with respect to the input for gradient ascent in input space.
extension Model {
  /// A model over the same layers (and the same weights, not a copy) whose outputs are the
  /// outputs of the layers named `layerNames`, in that order: Keras's
  /// `Model(inputs=model.inputs, outputs=[model.get_layer(n).output for n in names])`.
  /// Its inputs are those of this model that the requested outputs depend on, in this model's
  /// order. Meant for `predict` and `inputGradient`; train this model, not the intermediate one
  /// (their weights are the same memory, but only this model's optimizer state and trainable
  /// ranges describe them).
  public func intermediateModel(outputs layerNames: [String], name: String? = nil) throws -> Model {
    guard !layerNames.isEmpty else {
      throw DLPError.config("intermediateModel needs at least one layer name")
    }
    let outs = try layerNames.map { try outputTensor(ofLayer: $0) }
    return try submodel(outputs: outs, name: name ?? "\(self.name)_intermediate")
  }

  /// The output of the one node of layer `name` (a shared layer has several: ambiguous).
  func outputTensor(ofLayer name: String) throws -> SymbolicTensor {
    let layer = try self.layer(named: name)
    if layer is InputLayer { return inputs.first { $0.node.layer === layer }! }
    let applications = nodes.filter { $0.layer === layer }
    guard applications.count == 1 else {
      throw DLPError.config(
        "layer '\(name)' is applied \(applications.count) times in model '\(self.name)' (a shared layer), so it has no single output"
      )
    }
    return SymbolicTensor(node: applications[0], shape: layer.outputShape)
  }

  /// A model over existing nodes of this one whose layers keep reading and writing this
  /// model's parameter store.
  func submodel(outputs outs: [SymbolicTensor], name: String) throws -> Model {
    var needed = Set<ObjectIdentifier>()
    var stack = outs.map(\.node)
    while let n = stack.popLast() {
      if needed.insert(ObjectIdentifier(n)).inserted { stack += n.inputs.map(\.node) }
    }
    let ins = inputs.filter { needed.contains(ObjectIdentifier($0.node)) }
    // Model.init binds each layer to the new model's own store (copying the values); put the
    // bindings back so both models use the same weights.
    let bindings = layers.map { ($0, $0.binding) }
    defer { for (layer, binding) in bindings { layer.binding = binding } }
    return try Model(inputs: ins, outputs: outs, name: name)
  }

  /// d(objective)/d(input) for each sample of `x`, where the objective of a sample is the mean
  /// of output `output`'s activations (inference mode) over every position of channel `unit`
  /// (the last axis: a Dense unit, a Conv2D filter), or over the whole output when `unit` is
  /// nil. This is what gradient ascent in input space climbs (the book's filter patterns).
  /// The model must have one input; `x` has shape (n, input shape...).
  public func inputGradient(_ x: Tensor, output: Int = 0, unit: Int?) throws -> Tensor {
    try InputGradient(model: self, output: output, unit: unit, capacity: x.shape.first ?? 1)
      .gradient(x).gradient
  }
}

/// Gradients of one output's mean activation with respect to the model input, with buffers
/// sized once: reuse one for the steps of a gradient ascent.
public final class InputGradient {
  public let model: Model
  public let unit: Int?
  let probe: Model
  let executor: GraphExecutor
  let outputNode: Int
  let inputNode: Int

  /// - Parameters:
  ///   - output: which of `model`'s outputs to differentiate.
  ///   - unit: a channel of that output's last axis, or nil for the whole output.
  ///   - capacity: the most samples one call takes.
  public init(model: Model, output: Int = 0, unit: Int?, capacity: Int) throws {
    guard model.inputs.count == 1 else {
      throw DLPError.config(
        "inputGradient needs a model with one input; '\(model.name)' has \(model.inputs.count)")
    }
    guard model.outputs.indices.contains(output) else {
      throw DLPError.config(
        "model '\(model.name)' has \(model.outputs.count) outputs; output \(output) does not exist")
    }
    let out = model.outputs[output]
    if let u = unit, !(0..<(out.shape.last ?? 1)).contains(u) {
      throw DLPError.config(
        "output '\(out.node.layer.name)' has \(out.shape.last ?? 1) units on its last axis; unit \(u) does not exist"
      )
    }
    guard !(out.node.layer is InputLayer) else {
      throw DLPError.config(
        "output \(output) of model '\(model.name)' is its input: there is nothing to differentiate")
    }
    self.model = model
    self.unit = unit
    // An uncompiled model of that one output: no loss heads and no consumers downstream, so
    // the output node's gradient buffer receives exactly the seed written below.
    let probe = try model.submodel(outputs: [out], name: "\(model.name)_probe")
    self.probe = probe
    guard probe.inputs.count == 1 else {
      throw DLPError.config(
        "output \(output) of model '\(model.name)' does not depend on its input")
    }
    executor = GraphExecutor(model: probe, capacity: capacity, inputGradients: true)
    outputNode = probe.nodes.firstIndex { $0 === out.node }!
    inputNode = probe.nodes.firstIndex { $0 === probe.inputs[0].node }!
  }

  /// The objective of each sample and its gradient with respect to the input (shaped like x).
  /// Weight gradients are not computed; the model's weights and gradient buffer are untouched.
  public func gradient(_ x: Tensor) throws -> (objective: [Float], gradient: Tensor) {
    let shape = probe.inputs[0].shape
    guard x.rank == shape.count + 1, Array(x.shape.dropFirst()) == shape else {
      throw DLPError.shape(
        "input '\(probe.inputs[0].node.layer.name)' expects samples of shape \(describeShapes([shape])), got a tensor of shape \(x.shape)"
      )
    }
    let n = x.shape[0]
    guard n <= executor.capacity else {
      throw DLPError.shape(
        "this InputGradient takes at most \(executor.capacity) samples at once, got \(n)")
    }
    let data = try ArrayData(inputs: [x])
    let rows = Array(0..<n)
    rows.withUnsafeBufferPointer { executor.load(rows: $0, from: data, targets: false) }
    executor.forward(batch: n, training: false)

    // Seed: d(objective)/d(output) = 1/count at the positions averaged, 0 elsewhere.
    let outShape = probe.outputs[0].shape
    let width = outShape.reduce(1, *)
    let channels = outShape.last ?? 1
    let count = unit == nil ? width : width / channels
    let seed = executor.grads[outputNode]
    let y = executor.output(node: outputNode)
    var objective = [Float](repeating: 0, count: n)
    let share = 1 / Float(count)
    for i in 0..<(n * width) {
      let selected = unit.map { i % channels == $0 } ?? true
      seed[i] = selected ? share : 0
      if selected { objective[i / width] += y[i] * share }
    }

    // Frozen for the pass: backward then skips every weight gradient.
    let trainable = probe.layers.map(\.trainable)
    for l in probe.layers { l.trainable = false }
    defer { for (l, t) in zip(probe.layers, trainable) { l.trainable = t } }
    executor.backward(batch: n)

    let grad = Array(
      UnsafeBufferPointer(start: executor.gradient(node: inputNode), count: n * shape.reduce(1, *)))
    return (objective, Tensor(uncheckedShape: x.shape, scalars: grad))
  }
}
