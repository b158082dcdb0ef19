/// Keras's GlobalAveragePooling2D (channels_last): the mean over all positions, per channel.
/// Shapes per sample: x (H, W, C), y (C), or (1, 1, C) with `keepdims`.
public final class GlobalAveragePooling2D: Layer {
  public let keepdims: Bool

  public init(keepdims: Bool = false, name: String? = nil) {
    self.keepdims = keepdims
    super.init(name: name, defaultPrefix: "global_average_pooling2d")
  }

  public override var className: String { "GlobalAveragePooling2D" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let c = try globalPoolingChannels(self, inputShapes)
    return keepdims ? [1, 1, c] : [c]
  }

  public override func forward(_ p: ForwardPass) {
    let (positions, c) = (inputShapes[0][0] * inputShapes[0][1], inputShapes[0][2])
    let scale = 1 / Float(positions)
    for n in 0..<p.batch {
      let x = p.inputs[0] + n * positions * c
      let y = p.output + n * c
      y.update(repeating: 0, count: c)
      for i in 0..<positions {
        let row = x + i * c
        for ch in 0..<c { y[ch] += row[ch] }
      }
      for ch in 0..<c { y[ch] *= scale }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let (positions, c) = (inputShapes[0][0] * inputShapes[0][1], inputShapes[0][2])
    let scale = 1 / Float(positions)
    for n in 0..<p.batch {
      let dy = p.outputGrad + n * c
      let d = dx + n * positions * c
      for i in 0..<positions {
        let row = d + i * c
        for ch in 0..<c { row[ch] = dy[ch] * scale }
      }
    }
  }

  public override func config() -> [String: JSONValue] {
    ["data_format": "channels_last", "keepdims": .bool(keepdims)]
  }
}

/// The channel count of a global pooling layer's (H, W, C) input; throws on other ranks.
func globalPoolingChannels(_ layer: Layer, _ shapes: [[Int]]) throws -> Int {
  try layer.requireSingleInput(shapes)
  guard shapes[0].count == 3 else {
    throw DLPError.shape(
      "\(layer.className) '\(layer.name)' expects inputs of shape (None, height, width, channels); received \(describeShapes(shapes))"
    )
  }
  return shapes[0][2]
}
