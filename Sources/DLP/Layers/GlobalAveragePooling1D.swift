/// Keras's GlobalAveragePooling1D (channels_last): the mean over all steps, per channel; with a
/// mask (an Embedding's mask_zero), the mean over the steps the mask keeps (0 / 0 when it keeps
/// none, as Keras computes it). Shapes per sample: x (steps, C), y (C), or (1, C) with
/// `keepdims`.
public final class GlobalAveragePooling1D: Layer {
  public let keepdims: Bool

  public init(keepdims: Bool = false, name: String? = nil) {
    self.keepdims = keepdims
    super.init(name: name, defaultPrefix: "global_average_pooling1d")
  }

  public override var className: String { "GlobalAveragePooling1D" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let c = try sequenceChannels(self, inputShapes)
    return keepdims ? [1, c] : [c]
  }

  /// How many steps sample n's mean divides by, and its mask row.
  @inline(__always) func kept(_ mask: UnsafePointer<Float>?, _ n: Int, _ steps: Int) -> (
    Float, UnsafePointer<Float>?
  ) {
    guard let m = mask else { return (Float(steps), nil) }
    var kept: Float = 0
    for i in 0..<steps where m[n * steps + i] != 0 { kept += 1 }
    return (kept, m + n * steps)
  }

  public override func forward(_ p: ForwardPass) {
    let (steps, c) = (inputShapes[0][0], inputShapes[0][1])
    let mask = p.inputMasks.first ?? nil
    for n in 0..<p.batch {
      let (x, y) = (p.inputs[0] + n * steps * c, p.output + n * c)
      let (count, m) = kept(mask, n, steps)
      y.update(repeating: 0, count: c)
      for i in 0..<steps where m?[i] ?? 1 != 0 {
        let row = x + i * c
        for ch in 0..<c { y[ch] += row[ch] }
      }
      for ch in 0..<c { y[ch] /= count }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let (steps, c) = (inputShapes[0][0], inputShapes[0][1])
    let mask = p.inputMasks.first ?? nil
    for n in 0..<p.batch {
      let (dy, d) = (p.outputGrad + n * c, dx + n * steps * c)
      let (count, m) = kept(mask, n, steps)
      for i in 0..<steps {
        let row = d + i * c
        if m?[i] ?? 1 != 0 {
          for ch in 0..<c { row[ch] = dy[ch] / count }
        } else {
          row.update(repeating: 0, count: c)
        }
      }
    }
  }

  public override func config() -> [String: JSONValue] {
    ["data_format": "channels_last", "keepdims": .bool(keepdims)]
  }
}
