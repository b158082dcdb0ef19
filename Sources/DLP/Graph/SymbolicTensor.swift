/// One application of a layer to its inputs: a vertex of the model graph. A layer applied twice
/// (a shared layer) has two nodes and one set of weights.
public final class Node {
  public let layer: Layer
  public let inputs: [SymbolicTensor]
  /// The model applications this node was inlined from, outermost first (empty for a node of
  /// the model itself; see `ModelCall`).
  public internal(set) var calls: [ModelCall] = []

  init(layer: Layer, inputs: [SymbolicTensor]) {
    self.layer = layer
    self.inputs = inputs
  }
}

/// The output of a node, with its per-sample shape: what the functional API passes around
/// (Keras's KerasTensor).
public final class SymbolicTensor {
  public let node: Node
  public let shape: [Int]
  /// float32, or int32 for a model input of integer ids (what an Embedding reads).
  public var dtype: InputLayer.DType { (node.layer as? InputLayer)?.dtype ?? .float32 }

  init(node: Node, shape: [Int]) {
    self.node = node
    self.shape = shape
  }
}

/// `Input(shape: [784])`: a model input; `dtype: .int32` for integer ids (see `InputLayer.DType`).
public func Input(shape: [Int], name: String? = nil, dtype: InputLayer.DType = .float32) -> SymbolicTensor {
  let layer = InputLayer(shape: shape, name: name, dtype: dtype)
  return SymbolicTensor(node: Node(layer: layer, inputs: []), shape: shape)
}
