/// Keras's Flatten: (d1, d2, ...) -> (d1 * d2 * ...). Row-major storage makes it a copy.
public final class Flatten: Layer {
  public init(name: String? = nil) {
    super.init(name: name, defaultPrefix: "flatten")
  }

  public override var className: String { "Flatten" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    return [inputShapes[0].reduce(1, *)]
  }

  public override func forward(_ p: ForwardPass) {
    p.output.update(from: p.inputs[0], count: p.batch * outputShape[0])
  }

  public override func backward(_ p: BackwardPass) {
    p.inputGrads[0]?.update(from: p.outputGrad, count: p.batch * outputShape[0])
  }

  public override func config() -> [String: JSONValue] { ["data_format": "channels_last"] }
}
