/// Training or evaluation data held in memory: one sample array per model input and per
/// output, batch axis first, each in the element type it was loaded in (`SampleArray`: image
/// bytes stay bytes). Rows are gathered into the executor's Float32 buffers batch by batch
/// (`GraphExecutor.load`), which is the only place they become Float32.
public struct ArrayData {
  public var inputs: [SampleArray]
  public var targets: [SampleArray]

  public init(inputs: [SampleArray], targets: [SampleArray] = []) throws {
    guard let n = inputs.first?.rows else { throw DLPError.data("no input data") }
    for t in inputs + targets where t.rows != n {
      throw DLPError.shape(
        "all inputs and targets need the same number of samples: \(n) and \(t.rows) (shape \(t.shape))")
    }
    self.inputs = inputs
    self.targets = targets
  }

  /// Float32 tensors (their elements are shared, not copied).
  public init(inputs: [Tensor], targets: [Tensor] = []) throws {
    for t in inputs where t.rank == 0 { throw DLPError.data("input data has no batch axis (shape \(t.shape))") }
    try self.init(inputs: inputs.map(SampleArray.init), targets: targets.map(SampleArray.init))
  }

  public init(x: Tensor, y: Tensor) throws { try self.init(inputs: [x], targets: [y]) }

  public init(x: SampleArray, y: SampleArray) throws { try self.init(inputs: [x], targets: [y]) }

  public var count: Int { inputs[0].rows }

  /// Rows `range` (for hold-out splits): views of the same memory.
  public func slice(_ range: Range<Int>) throws -> ArrayData {
    try ArrayData(inputs: inputs.map { try $0.rows(range) }, targets: targets.map { try $0.rows(range) })
  }

  /// The rows at `indices` (for K-fold partitions), copied in their own element types.
  public func gather(_ indices: [Int]) throws -> ArrayData {
    try ArrayData(
      inputs: inputs.map { try $0.gathering(rows: indices) }, targets: targets.map { try $0.gathering(rows: indices) })
  }

  /// Checks the data against a model's inputs and compiled outputs, naming both shapes.
  public func validate(for model: Model, needTargets: Bool) throws {
    guard inputs.count == model.inputs.count else {
      throw DLPError.shape("the model has \(model.inputs.count) inputs, the data has \(inputs.count)")
    }
    for (t, i) in zip(inputs, model.inputs) where t.rowWidth != i.shape.reduce(1, *) {
      throw DLPError.shape(
        "input '\(i.node.layer.name)' expects samples of shape \(describeShapes([i.shape])), the data has samples of shape \(describeShapes([Array(t.shape.dropFirst())]))"
      )
    }
    for (t, i) in zip(inputs, model.inputs) {
      guard let layer = i.node.layer as? InputLayer, layer.dtype == .int32, t.dtype == .float32 else { continue }
      throw DLPError.data(
        "input '\(layer.name)' takes integer ids (dtype int32); the data is float32. Load the ids as integers (an integer .npz array, or SampleArray(shape:int32:))"
      )
    }
    try Embedding.validateIds(self, for: model)
    guard needTargets else { return }
    let c = try model.requireCompiled()
    guard targets.count == c.heads.count else {
      throw DLPError.shape("the model has \(c.heads.count) outputs, the data has \(targets.count) target arrays")
    }
    for (t, h) in zip(targets, c.heads) {
      guard t.rowWidth == h.targetWidth else {
        var hint = ""
        if h.loss is SparseCategoricalCrossentropy && t.rowWidth == h.width {
          hint = " (one-hot targets need categorical_crossentropy)"
        }
        if h.loss is CategoricalCrossentropy && t.rowWidth == 1 {
          hint = " (integer labels need sparse_categorical_crossentropy, or one-hot encode them)"
        }
        throw DLPError.shape(
          "output '\(h.name)' has shape \(describeShapes([model.outputs[c.heads.firstIndex { $0.name == h.name }!].shape])) and loss \(h.loss.name) expects \(h.targetWidth) target values per sample; the targets have shape \(t.shape)\(hint)"
        )
      }
      try t.withFloats { try h.loss.validate(targets: $0, outputWidth: h.width) }
    }
  }
}
