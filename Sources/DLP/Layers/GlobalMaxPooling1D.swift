/// Keras's GlobalMaxPooling1D (channels_last): the maximum over all steps, per channel.
/// Shapes per sample: x (steps, C), y (C), or (1, C) with `keepdims`. Forward keeps the winning
/// step of each channel in scratch for backward (ties: the first).
public final class GlobalMaxPooling1D: Layer {
  public let keepdims: Bool

  public init(keepdims: Bool = false, name: String? = nil) {
    self.keepdims = keepdims
    super.init(name: name, defaultPrefix: "global_max_pooling1d")
  }

  public override var className: String { "GlobalMaxPooling1D" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let c = try sequenceChannels(self, inputShapes)
    return keepdims ? [1, c] : [c]
  }

  /// The winning step of each output channel.
  public override func scratchWidths() -> [Int] { [inputShapes[0][1]] }

  public override func forward(_ p: ForwardPass) {
    let (steps, c) = (inputShapes[0][0], inputShapes[0][1])
    Parallel.forEach(p.batch) { _, samples in
      for n in samples {
        let x = p.inputs[0] + n * steps * c
        let (y, arg) = (p.output + n * c, p.scratch[0] + n * c)
        y.update(from: x, count: c)
        arg.update(repeating: 0, count: c)
        for i in 1..<Swift.max(steps, 1) {
          let row = x + i * c
          for ch in 0..<c where row[ch] > y[ch] {
            y[ch] = row[ch]
            arg[ch] = Float(i)
          }
        }
      }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let (steps, c) = (inputShapes[0][0], inputShapes[0][1])
    dx.update(repeating: 0, count: p.batch * steps * c)
    for n in 0..<p.batch {
      let (dy, arg, d) = (p.outputGrad + n * c, p.scratch[0] + n * c, dx + n * steps * c)
      for ch in 0..<c { d[Int(arg[ch]) * c + ch] = dy[ch] }
    }
  }

  public override func config() -> [String: JSONValue] {
    ["data_format": "channels_last", "keepdims": .bool(keepdims)]
  }
}

/// The channel count of a 1-D layer's (steps, channels) input; throws on other ranks.
func sequenceChannels(_ layer: Layer, _ shapes: [[Int]]) throws -> Int {
  try layer.requireSingleInput(shapes)
  guard shapes[0].count == 2 else {
    throw DLPError.shape(
      "\(layer.className) '\(layer.name)' expects inputs of shape (None, steps, channels); received \(describeShapes(shapes))"
    )
  }
  return shapes[0][1]
}
