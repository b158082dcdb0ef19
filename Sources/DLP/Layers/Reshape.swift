/// Keras's Reshape: the same values per sample under `targetShape` (no batch axis; one entry
/// may be -1, inferred from the input size). Row-major storage makes it a copy.
public final class Reshape: Layer {
  public let targetShape: [Int]

  public init(_ targetShape: [Int], name: String? = nil) throws {
    let context = "Reshape '\(name ?? "reshape")'"
    guard !targetShape.isEmpty, targetShape.allSatisfy({ $0 > 0 || $0 == -1 }),
      targetShape.filter({ $0 == -1 }).count <= 1
    else {
      throw DLPError.config(
        "\(context): expected target_shape to be positive sizes with at most one -1. Received: target_shape=\(targetShape)"
      )
    }
    self.targetShape = targetShape
    super.init(name: name, defaultPrefix: "reshape")
  }

  public override var className: String { "Reshape" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    let count = inputShapes[0].reduce(1, *)
    let known = targetShape.filter { $0 != -1 }.reduce(1, *)
    var out = targetShape
    if let i = out.firstIndex(of: -1), count % known == 0 {
      out[i] = count / known
    }
    guard out.reduce(1, *) == count, !out.contains(-1) else {
      throw DLPError.shape(
        "Reshape '\(name)': cannot reshape inputs of shape \(describeShapes(inputShapes)) (\(count) values per sample) to target_shape \(targetShape)"
      )
    }
    return out
  }

  public override func forward(_ p: ForwardPass) {
    p.output.update(from: p.inputs[0], count: p.batch * outputShape.reduce(1, *))
  }

  public override func backward(_ p: BackwardPass) {
    p.inputGrads[0]?.update(from: p.outputGrad, count: p.batch * outputShape.reduce(1, *))
  }

  public override func config() -> [String: JSONValue] {
    ["target_shape": .array(targetShape.map { JSONValue($0) })]
  }
}

extension Reshape {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    guard let list = c.json["target_shape"]?.array, let shape = Optional(list.compactMap(\.int)),
      shape.count == list.count
    else {
      throw DLPError.config(
        "\(c.context): key 'target_shape' must be a list of integers, got \(c.json["target_shape"].map { $0.serialized() } ?? "nothing")"
      )
    }
    do { try self.init(shape, name: c.name) } catch let DLPError.config(m) {
      throw DLPError.config("\(c.context): \(m)")
    }
  }
}
