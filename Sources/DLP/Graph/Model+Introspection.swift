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
    if layer is InputLayer, let i = inputs.first(where: { $0.node.layer === layer }) { return i }
    if let nested = layer as? Model {
      // A nested model: the output of its one application.
      var calls: [ModelCall] = []
      for n in nodes {
        for c in n.calls where c.model === nested && !calls.contains(where: { $0 === c }) { calls.append(c) }
      }
      guard calls.count == 1, calls[0].outputs.count == 1 else {
        throw DLPError.config(
          "model '\(name)' is applied \(calls.count) times in model '\(self.name)' or has several outputs, so it has no single output")
      }
      return calls[0].outputs[0]
    }
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
    // No store of its own: the layers keep their bindings into this model's.
    return try Model(inputs: ins, outputs: outs, name: name, bindWeights: false)
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
/// sized once: reuse one for the steps of a gradient ascent (a `LayerGradient` on the input).
public final class InputGradient {
  public let model: Model
  public let unit: Int?
  let gradient: LayerGradient

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
    self.model = model
    self.unit = unit
    gradient = try LayerGradient(
      model: model, layer: model.inputs[0].node.layer.name, output: output, capacity: capacity)
  }

  /// The objective of each sample and its gradient with respect to the input (shaped like x).
  /// Weight gradients are not computed; the model's weights and gradient buffer are untouched.
  public func gradient(_ x: Tensor) throws -> (objective: [Float], gradient: Tensor) {
    let channels = gradient.outputShape.last ?? 1
    let unit = self.unit
    let r = try gradient.compute(x) { y, seed, n, width in
      // d(objective)/d(output) = 1/count at the positions averaged, 0 elsewhere.
      let count = unit == nil ? width : width / channels
      let share = 1 / Float(count)
      var objective = [Float](repeating: 0, count: n)
      for i in 0..<(n * width) where unit.map({ i % channels == $0 }) ?? true {
        seed[i] = share
        objective[i / width] += y[i] * share
      }
      return objective
    }
    return (r.objective, r.gradient)
  }
}
