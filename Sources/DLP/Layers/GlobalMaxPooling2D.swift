/// Keras's GlobalMaxPooling2D (channels_last): the maximum over all positions, per channel.
/// Shapes per sample: x (H, W, C), y (C), or (1, 1, C) with `keepdims`. Forward keeps the
/// winning position of each channel in scratch for backward.
public final class GlobalMaxPooling2D: Layer {
  public let keepdims: Bool

  public init(keepdims: Bool = false, name: String? = nil) {
    self.keepdims = keepdims
    super.init(name: name, defaultPrefix: "global_max_pooling2d")
  }

  public override var className: String { "GlobalMaxPooling2D" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let c = try globalPoolingChannels(self, inputShapes)
    return keepdims ? [1, 1, c] : [c]
  }

  /// The winning position of each output channel.
  public override func scratchWidths() -> [Int] { [inputShapes[0][2]] }

  public override func forward(_ p: ForwardPass) {
    let (positions, c) = (inputShapes[0][0] * inputShapes[0][1], inputShapes[0][2])
    for n in 0..<p.batch {
      let x = p.inputs[0] + n * positions * c
      let y = p.output + n * c
      let arg = p.scratch[0] + n * c
      y.update(from: x, count: c)
      arg.update(repeating: 0, count: c)
      for i in 1..<Swift.max(positions, 1) {
        let row = x + i * c
        for ch in 0..<c {
          let better = row[ch] > y[ch]
          y[ch] = better ? row[ch] : y[ch]
          arg[ch] = better ? Float(i) : arg[ch]
        }
      }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let (positions, c) = (inputShapes[0][0] * inputShapes[0][1], inputShapes[0][2])
    dx.update(repeating: 0, count: p.batch * positions * c)
    for n in 0..<p.batch {
      let dy = p.outputGrad + n * c
      let arg = p.scratch[0] + n * c
      let d = dx + n * positions * c
      for ch in 0..<c { d[Int(arg[ch]) * c + ch] = dy[ch] }
    }
  }

  public override func config() -> [String: JSONValue] {
    ["data_format": "channels_last", "keepdims": .bool(keepdims)]
  }
}
