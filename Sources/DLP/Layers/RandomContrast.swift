/// Keras's RandomContrast: in training, each image's channels are pulled towards (or pushed
/// from) their spatial mean by its own factor f drawn in [1 - lower, 1 + upper],
/// y = clip((x - mean) * f + mean, value_range); the identity at inference. (Keras's factor
/// bounds are [0, 1]: a number f gives lower = max(-f, 0) = 0, so factors in [1, 1 + f].)
public final class RandomContrast: RandomImageLayer {
  public let factor: (Double, Double)
  public let valueRange: (Float, Float)

  public init(factor: (Double, Double), valueRange: (Float, Float) = (0, 255), seed: Int? = nil, name: String? = nil)
    throws
  {
    guard factor.0 <= factor.1, factor.0 >= 0, factor.1 <= 1 else {
      throw DLPError.config("RandomContrast: expected factor in [0, 1] with lower <= upper. Received: factor=\(factor)")
    }
    guard valueRange.0 <= valueRange.1 else {
      throw DLPError.config(
        "RandomContrast: expected value_range [low, high] with low <= high. Received: value_range=\(valueRange)")
    }
    self.factor = factor
    self.valueRange = valueRange
    super.init(seed: seed, name: name, defaultPrefix: "random_contrast")
  }

  /// `RandomContrast(0.2)` as Keras reads it: factors in [1, 1.2].
  public convenience init(_ factor: Double, seed: Int? = nil, name: String? = nil) throws {
    try self.init(factor: (Swift.max(-factor, 0), factor), seed: seed, name: name)
  }

  public override var className: String { "RandomContrast" }

  /// Per sample: the factor, and the channel means (C) (row 0's slot C + 1 says whether the
  /// pass trained).
  public override func scratchWidths() -> [Int] { [imageChannels + 2] }

  public override func forward(_ p: ForwardPass) {
    let n = imageSize
    let c = imageChannels
    let pixels = imageHeight * imageWidth
    let saved = p.scratch[0]
    let width = c + 2
    guard p.training else {
      p.output.update(from: p.inputs[0], count: p.batch * n)
      if p.batch > 0 { saved[c + 1] = 0 }
      return
    }
    if p.batch > 0 { saved[c + 1] = 1 }
    let (lo, hi) = valueRange
    for r in 0..<p.batch {
      let f = uniform(p, draw: 0, row: r, minval: 1 - factor.0, maxval: 1 + factor.1)
      let mean = saved + r * width + 1
      saved[r * width] = f
      Self.channelMeans(p.inputs[0] + r * n, height: imageHeight, width: imageWidth, channels: c, into: mean)
      let (x, y) = (p.inputs[0] + r * n, p.output + r * n)
      for i in 0..<pixels {
        for k in 0..<c {
          let v = (x[i * c + k] - mean[k]) * f + mean[k]
          y[i * c + k] = Swift.min(Swift.max(v, lo), hi)
        }
      }
    }
  }

  /// Keras's mean over the height, then over the width, in float32.
  static func channelMeans(
    _ x: UnsafePointer<Float>, height: Int, width: Int, channels c: Int, into mean: UnsafeMutablePointer<Float>
  ) {
    for k in 0..<c { mean[k] = 0 }
    for col in 0..<width {
      for k in 0..<c {
        var s: Float = 0
        for row in 0..<height { s += x[(row * width + col) * c + k] }
        mean[k] += s / Float(height)
      }
    }
    for k in 0..<c { mean[k] /= Float(width) }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let n = imageSize
    let c = imageChannels
    let pixels = imageHeight * imageWidth
    let saved = p.scratch[0]
    guard p.batch > 0, saved[c + 1] != 0 else {
      dx.update(from: p.outputGrad, count: p.batch * n)
      return
    }
    let width = c + 2
    let (lo, hi) = valueRange
    withUnsafeTemporaryAllocation(of: Float.self, capacity: c) { sums in
      for r in 0..<p.batch {
        let f = saved[r * width]
        let (x, dy, d) = (p.inputs[0] + r * n, p.outputGrad + r * n, dx + r * n)
        let mean = saved + r * width + 1
        // Through the clip: where the unclipped value lay inside the range.
        for k in 0..<c { sums[k] = 0 }
        for i in 0..<(pixels * c) {
          let v = (x[i] - mean[i % c]) * f + mean[i % c]
          let g = v >= lo && v <= hi ? dy[i] : 0
          d[i] = f * g
          sums[i % c] += g
        }
        // The mean's share: each pixel moves it by 1 / pixels, with weight 1 - f.
        for i in 0..<(pixels * c) { d[i] += (1 - f) * sums[i % c] / Float(pixels) }
      }
    }
  }

  public override func config() -> [String: JSONValue] {
    [
      "factor": [JSONValue(factor.0), JSONValue(factor.1)],
      "value_range": [JSONValue(valueRange.0), JSONValue(valueRange.1)],
      "seed": seed.map { JSONValue($0) } ?? .null, "data_format": "channels_last",
    ]
  }
}

extension RandomContrast {
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let factor = try RandomImageLayer.factorPair(c.json["factor"], key: "factor", bounds: 0...1, context: c.context)
    var range: (Float, Float) = (0, 255)
    if let v = c.json["value_range"], !v.isNull {
      guard let a = v.array?.compactMap(\.double), a.count == 2 else {
        throw DLPError.config("\(c.context): key 'value_range' must be a list of two numbers, got \(v.serialized())")
      }
      range = (Float(a[0]), Float(a[1]))
    }
    try self.init(factor: factor, valueRange: range, seed: c.optionalInt("seed"), name: c.name)
  }
}
