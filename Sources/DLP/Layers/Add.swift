/// Keras's Add: the element-wise sum of inputs of one shape (no broadcasting).
public final class Add: Layer {
  public init(name: String? = nil) {
    super.init(name: name, defaultPrefix: "add")
  }

  public override var className: String { "Add" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    guard let first = inputShapes.first else {
      throw DLPError.shape("Add '\(name)' should be called on a list of at least one input")
    }
    guard inputShapes.allSatisfy({ $0 == first }) else {
      throw DLPError.shape(
        "Add '\(name)' needs inputs of one shape; received "
          + inputShapes.enumerated().map { "input \($0) \(describeShapes([$1]))" }.joined(
            separator: ", "))
    }
    return first
  }

  public override func forward(_ p: ForwardPass) {
    let n = p.batch * outputShape.reduce(1, *)
    let y = p.output
    y.update(from: p.inputs[0], count: n)
    for x in p.inputs.dropFirst() { for i in 0..<n { y[i] += x[i] } }
  }

  public override func backward(_ p: BackwardPass) {
    let n = p.batch * outputShape.reduce(1, *)
    for dx in p.inputGrads { dx?.update(from: p.outputGrad, count: n) }
  }
}
