import Foundation

/// Keras's RandomRotation: in training, each image turns about its centre by its own angle,
/// factor * 360 degrees drawn uniformly in [lower, upper] (a number f: [-f, f]), resampled with
/// `fill_mode` and `interpolation`; the identity at inference.
public final class RandomRotation: AffineAugmentation {
  /// (lower, upper) fractions of a full turn.
  public let factor: (Double, Double)

  public init(
    factor: (Double, Double), fillMode: FillMode = .reflect, interpolation: Interpolation = .bilinear,
    seed: Int? = nil, fillValue: Float = 0, name: String? = nil
  ) throws {
    guard factor.0 <= factor.1, factor.0 >= -1, factor.1 <= 1 else {
      throw DLPError.config(
        "RandomRotation: expected factor in [-1, 1] with lower <= upper. Received: factor=\(factor)")
    }
    self.factor = factor
    super.init(
      fillMode: fillMode, fillValue: fillValue, interpolation: interpolation, seed: seed, name: name,
      defaultPrefix: "random_rotation")
  }

  /// `RandomRotation(0.1)`: angles in [-0.1, 0.1] of a turn.
  public convenience init(_ factor: Double, fillMode: FillMode = .reflect, seed: Int? = nil, name: String? = nil) throws
  {
    guard (-1...1).contains(factor) else {
      throw DLPError.config("RandomRotation: expected factor in [-1, 1]. Received: factor=\(factor)")
    }
    try self.init(factor: (-Swift.abs(factor), Swift.abs(factor)), fillMode: fillMode, seed: seed, name: name)
  }

  public override var className: String { "RandomRotation" }

  public override func transform(_ p: ForwardPass, row: Int, into t: UnsafeMutablePointer<Float>) {
    // Keras: the angle in degrees, then radians; the matrix of _compute_affine_matrix about
    // (cx, cy) = ((W - 1) / 2, (H - 1) / 2), all in float32.
    let degrees = uniform(p, draw: 0, row: row, minval: factor.0 * 360, maxval: factor.1 * 360)
    let angle = degrees * Float(Double.pi / 180)
    let (cosine, sine) = (Foundation.cos(angle), Foundation.sin(angle))
    let cx = 0.5 * (Float(imageWidth) - 1)
    let cy = 0.5 * (Float(imageHeight) - 1)
    t[0] = cosine
    t[1] = -sine
    t[2] = (cx - cx * t[0]) - cy * t[1]
    t[3] = sine
    t[4] = cosine
    t[5] = (cy - cx * t[3]) - cy * t[4]
    t[6] = 0
    t[7] = 0
  }

  public override func config() -> [String: JSONValue] {
    var c = samplingConfig
    c["factor"] = [JSONValue(factor.0), JSONValue(factor.1)]
    return c
  }
}

extension RandomRotation {
  public convenience init(config c: LayerConfig) throws {
    let (fill, value, interpolation) = try c.sampling()
    try self.init(
      factor: RandomImageLayer.factorPair(c.json["factor"], key: "factor", bounds: -1...1, context: c.context),
      fillMode: fill, interpolation: interpolation, seed: c.optionalInt("seed"), fillValue: value, name: c.name)
  }
}
