/// Training or evaluation data held in memory: one tensor per model input and per output,
/// batch axis first. Rows are copied into the executor's buffers batch by batch.
public struct ArrayData {
  public var inputs: [Tensor]
  public var targets: [Tensor]

  public init(inputs: [Tensor], targets: [Tensor] = []) throws {
    guard let n = inputs.first?.shape.first else { throw DLPError.data("no input data (or it has no batch axis)") }
    for t in inputs + targets where t.shape.first != n {
      throw DLPError.shape("all inputs and targets need the same number of samples: \(n) and \(t.shape.first ?? 0) (shape \(t.shape))")
    }
    self.inputs = inputs
    self.targets = targets
  }

  public init(x: Tensor, y: Tensor) throws { try self.init(inputs: [x], targets: [y]) }

  public var count: Int { inputs[0].shape[0] }

  /// Rows `range` (for hold-out splits).
  public func slice(_ range: Range<Int>) throws -> ArrayData {
    try ArrayData(inputs: inputs.map { try $0.slice(rows: range) }, targets: targets.map { try $0.slice(rows: range) })
  }

  /// The rows at `indices` (for K-fold partitions).
  public func gather(_ indices: [Int]) throws -> ArrayData {
    try ArrayData(inputs: inputs.map { try $0.gather(rows: indices) }, targets: targets.map { try $0.gather(rows: indices) })
  }

  /// Checks the data against a model's inputs and compiled outputs, naming both shapes.
  public func validate(for model: Model, needTargets: Bool) throws {
    guard inputs.count == model.inputs.count else {
      throw DLPError.shape("the model has \(model.inputs.count) inputs, the data has \(inputs.count)")
    }
    for (t, i) in zip(inputs, model.inputs) where t.rowWidth != i.shape.reduce(1, *) {
      throw DLPError.shape(
        "input '\(i.node.layer.name)' expects samples of shape \(describeShapes([i.shape])), the data has samples of shape \(describeShapes([Array(t.shape.dropFirst())]))")
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
        if h.loss is SparseCategoricalCrossentropy && t.rowWidth == h.width { hint = " (one-hot targets need categorical_crossentropy)" }
        if h.loss is CategoricalCrossentropy && t.rowWidth == 1 { hint = " (integer labels need sparse_categorical_crossentropy, or one-hot encode them)" }
        throw DLPError.shape(
          "output '\(h.name)' has shape \(describeShapes([model.outputs[c.heads.firstIndex { $0.name == h.name }!].shape])) and loss \(h.loss.name) expects \(h.targetWidth) target values per sample; the targets have shape \(t.shape)\(hint)")
      }
      try t.scalars.withUnsafeBufferPointer { try h.loss.validate(targets: $0, outputWidth: h.width) }
    }
  }
}
