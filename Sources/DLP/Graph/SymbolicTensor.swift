/// One application of a layer to its inputs: a vertex of the model graph. A layer applied twice
/// (a shared layer) has two nodes and one set of weights.
public final class Node {
  public let layer: Layer
  public let inputs: [SymbolicTensor]

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
  public var dtype: DType { (node.layer as? InputLayer)?.dtype ?? .float32 }

  init(node: Node, shape: [Int]) {
    self.node = node
    self.shape = shape
  }
}

/// `Input(shape: [784])`: a model input; `Input(shape: [200], dtype: .int32)` one of word ids.
public func Input(shape: [Int], dtype: DType = .float32, name: String? = nil) -> SymbolicTensor {
  let layer = InputLayer(shape: shape, dtype: dtype, name: name)
  return SymbolicTensor(node: Node(layer: layer, inputs: []), shape: shape)
}

/// The element type of a tensor in the graph. Every buffer is 32-bit; an int32 model input
/// holds Int32 bit patterns in its Float buffer (no float round trip), which the layers that
/// take integer ids (Embedding) read as such.
public enum DType: String, Sendable {
  case float32, int32

  /// Keras's dtype names: the integer ones are held as int32.
  public init(keras name: String, context: String) throws {
    switch name {
    case "float32", "float64", "float16", "bfloat16": self = .float32
    case "int32", "int64", "int16", "int8", "uint8", "uint16", "uint32": self = .int32
    default:
      throw DLPError.config("\(context): unsupported dtype '\(name)'; expected float32 or an integer type")
    }
  }
}
