/// A model input: holds the batch the executor copies in; no weights, no computation.
public final class InputLayer: Layer {
  /// What the input's buffer holds (Keras's `Input(dtype=...)`).
  public enum DType: String, Sendable {
    /// Float32 values: what every layer but an Embedding reads.
    case float32
    /// Integer ids (tokens) as Int32 bit patterns in the Float-typed buffer, copied from integer
    /// samples without a float round trip (`SampleDelivery.int32Bits`); only layers whose
    /// `readsInt32Input` is true may consume such an input (the model checks).
    case int32
  }

  public let shape: [Int]
  public let dtype: DType

  public init(shape: [Int], name: String? = nil, dtype: DType = .float32) {
    self.shape = shape
    self.dtype = dtype
    super.init(name: name, defaultPrefix: "input_layer")
    inputShapes = []
    outputShape = shape
    isBuilt = true
  }

  /// How the executor writes samples into this input's buffer.
  public var delivery: SampleDelivery { dtype == .int32 ? .int32Bits : .values }

  public override var className: String { "InputLayer" }

  /// The dtype of a Keras `InputLayer` config: Keras's integer dtypes (the ids an Embedding
  /// takes) are int32 here, its float dtypes float32.
  static func dtype(keras name: String, context: String) throws -> DType {
    switch name {
    case "float16", "bfloat16", "float32", "float64": return .float32
    case "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64": return .int32
    default:
      throw DLPError.config("\(context): expected a float or integer dtype. Received: dtype=\(name)")
    }
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] { shape }

  public override func config() -> [String: JSONValue] {
    ["batch_shape": .batchShape(shape), "sparse": false, "ragged": false]
  }
}
