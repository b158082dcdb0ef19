/// A model input: holds the batch the executor copies in; no weights, no computation.
public final class InputLayer: Layer {
  public let shape: [Int]
  /// int32 for integer ids (Keras's `Input(shape, dtype="int32")`): the executor stores their
  /// bits as they are.
  public let dtype: DType

  public init(shape: [Int], dtype: DType = .float32, name: String? = nil) {
    self.shape = shape
    self.dtype = dtype
    super.init(name: name, defaultPrefix: "input_layer")
    inputShapes = []
    outputShape = shape
    isBuilt = true
  }

  public override var className: String { "InputLayer" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] { shape }

  public override func config() -> [String: JSONValue] {
    ["batch_shape": .batchShape(shape), "sparse": false, "ragged": false]
  }
}
