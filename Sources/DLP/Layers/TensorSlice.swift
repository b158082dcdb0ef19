/// One of the outputs of a layer that returns several (a recurrent layer's `return_state`:
/// [y, h, c]). Such a layer writes its outputs side by side in one row per sample; a slice
/// copies out the columns of output `index`, and takes their gradient back. It is not a Keras
/// layer: the JSON writer, the summary and the weights skip it, and Keras's references to
/// output `index` of the layer (`keras_history` [name, node, index]) resolve to it.
final class TensorSlice: Layer {
  /// Which of the source's outputs this is, and where its values sit in the source's row.
  let index: Int
  let offset: Int
  let shape: [Int]

  init(source: Layer, index: Int, offset: Int, shape: [Int]) {
    self.index = index
    self.offset = offset
    self.shape = shape
    super.init(name: nil, defaultPrefix: "\(source.name)__output_\(index)")
  }

  override var className: String { "TensorSlice" }
  var width: Int { shape.reduce(1, *) }

  override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard offset + width <= inputShapes[0].reduce(1, *) else {
      throw DLPError.shape(
        "output \(index) of '\(name)' lies outside its source's \(describeShapes(inputShapes))")
    }
    return shape
  }

  /// The sequence output keeps the source's mask; the states carry none (Keras's
  /// RNN.compute_mask).
  override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    index == 0 && inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  override func forward(_ p: ForwardPass) {
    let (total, w) = (inputShapes[0].reduce(1, *), width)
    for n in 0..<p.batch {
      (p.output + n * w).update(from: p.inputs[0] + n * total + offset, count: w)
    }
  }

  override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let (total, w) = (inputShapes[0].reduce(1, *), width)
    dx.update(repeating: 0, count: p.batch * total)
    for n in 0..<p.batch { (dx + n * total + offset).update(from: p.outputGrad + n * w, count: w) }
  }
}

/// A layer whose Keras call returns several tensors (a recurrent layer or a Bidirectional with
/// `return_state`): its node's row holds them side by side, in Keras's order.
public protocol MultiOutputLayer: Layer {
  /// Keras's per-sample output shapes, in order.
  var kerasOutputShapes: [[Int]] { get }
}

extension MultiOutputLayer {
  /// Calls the layer and returns Keras's list of outputs: `let (y, h, c)` of an LSTM with
  /// `returnState`. A layer with a single output returns just it.
  public func callReturningAll(_ input: SymbolicTensor) throws -> [SymbolicTensor] {
    let joined = try self(input)
    return try TensorSlice.split(joined, shapes: kerasOutputShapes)
  }
}

extension TensorSlice {
  /// The slices of a node's joined outputs (just the tensor when there is one output).
  static func split(_ joined: SymbolicTensor, shapes: [[Int]]) throws -> [SymbolicTensor] {
    guard shapes.count > 1 else { return [joined] }
    var offset = 0
    return try shapes.enumerated().map { k, shape in
      let slice = TensorSlice(source: joined.node.layer, index: k, offset: offset, shape: shape)
      offset += shape.reduce(1, *)
      return try slice(joined)
    }
  }
}
