/// A model input: holds the batch the executor copies in; no weights, no computation.
public final class InputLayer: Layer {
  public let shape: [Int]

  public init(shape: [Int], name: String? = nil) {
    self.shape = shape
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
