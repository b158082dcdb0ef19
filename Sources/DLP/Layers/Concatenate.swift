/// Keras's Concatenate: joins its inputs along `axis` (counted with the batch axis, as Keras
/// does: -1 is the last axis, 0 the batch axis, which cannot be joined). Every other axis must
/// agree. Per sample the output is `outer` blocks, each the inputs' blocks side by side.
public final class Concatenate: Layer {
  public let axis: Int

  public init(axis: Int = -1, name: String? = nil) {
    self.axis = axis
    super.init(name: name, defaultPrefix: "concatenate")
  }

  public override var className: String { "Concatenate" }

  /// The per-sample axis (no batch axis) that `axis` names for inputs of `rank`.
  func sampleAxis(rank: Int) throws -> Int {
    let full = axis < 0 ? axis + rank + 1 : axis
    guard full >= 1, full <= rank else {
      throw DLPError.shape(
        "Concatenate '\(name)': axis \(axis) is out of range for inputs of rank \(rank + 1) (batch axis included; the batch axis 0 cannot be joined)"
      )
    }
    return full - 1
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    guard let first = inputShapes.first else {
      throw DLPError.shape("Concatenate '\(name)' should be called on a list of at least one input")
    }
    let a = try sampleAxis(rank: first.count)
    for s in inputShapes {
      guard s.count == first.count, s.indices.allSatisfy({ $0 == a || s[$0] == first[$0] }) else {
        throw DLPError.shape(
          "Concatenate '\(name)' (axis \(axis)) needs inputs that match on every axis but the joined one; received "
            + inputShapes.enumerated().map { "input \($0) \(describeShapes([$1]))" }.joined(
              separator: ", "))
      }
    }
    var out = first
    out[a] = inputShapes.reduce(0) { $0 + $1[a] }
    return out
  }

  /// Blocks per sample, and values per block of each input; fixed by `build`.
  private var outer = 0
  private var chunks: [Int] = []

  public override func build(_ inputShapes: [[Int]]) throws {
    let a = try sampleAxis(rank: inputShapes[0].count)
    let inner = inputShapes[0][(a + 1)...].reduce(1, *)
    outer = inputShapes[0][..<a].reduce(1, *)
    chunks = inputShapes.map { $0[a] * inner }
  }

  public override func forward(_ p: ForwardPass) {
    var y = p.output
    for o in 0..<(p.batch * outer) {
      for (i, w) in chunks.enumerated() {
        y.update(from: p.inputs[i] + o * w, count: w)
        y += w
      }
    }
  }

  public override func backward(_ p: BackwardPass) {
    var dy = UnsafePointer(p.outputGrad)
    for o in 0..<(p.batch * outer) {
      for (i, w) in chunks.enumerated() {
        p.inputGrads[i]?.advanced(by: o * w).update(from: dy, count: w)
        dy += w
      }
    }
  }

  public override func config() -> [String: JSONValue] { ["axis": JSONValue(axis)] }
}
