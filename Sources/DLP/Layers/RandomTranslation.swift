/// Keras's RandomTranslation: in training, each image shifts by its own fractions of its
/// height and width, drawn in [lower, upper] of `height_factor` and `width_factor` (a number f:
/// [-f, f]), resampled with `fill_mode` and `interpolation`; the identity at inference.
public final class RandomTranslation: AffineAugmentation {
  public let heightFactor: (Double, Double)
  public let widthFactor: (Double, Double)
  /// The factors as given (Keras writes them back unchanged).
  var factorsJSON: (JSONValue, JSONValue)

  public init(
    heightFactor: (Double, Double), widthFactor: (Double, Double), fillMode: FillMode = .reflect,
    interpolation: Interpolation = .bilinear, seed: Int? = nil, fillValue: Float = 0, name: String? = nil
  ) throws {
    for (key, f) in [("height_factor", heightFactor), ("width_factor", widthFactor)]
    where !(f.0 <= f.1 && f.0 >= -1 && f.1 <= 1) {
      throw DLPError.config("RandomTranslation: expected \(key) in [-1, 1] with lower <= upper. Received: \(key)=\(f)")
    }
    self.heightFactor = heightFactor
    self.widthFactor = widthFactor
    factorsJSON = (
      [JSONValue(heightFactor.0), JSONValue(heightFactor.1)], [JSONValue(widthFactor.0), JSONValue(widthFactor.1)]
    )
    super.init(
      fillMode: fillMode, fillValue: fillValue, interpolation: interpolation, seed: seed, name: name,
      defaultPrefix: "random_translation")
  }

  /// `RandomTranslation(0.1, 0.2)`: shifts in [-0.1, 0.1] of the height, [-0.2, 0.2] of the width.
  public convenience init(
    _ height: Double, _ width: Double, fillMode: FillMode = .reflect, seed: Int? = nil, name: String? = nil
  ) throws {
    try self.init(
      heightFactor: (-Swift.abs(height), Swift.abs(height)), widthFactor: (-Swift.abs(width), Swift.abs(width)),
      fillMode: fillMode, seed: seed, name: name)
  }

  public override var className: String { "RandomTranslation" }
  public override var drawsPerCall: Int { 2 }

  public override func transform(_ p: ForwardPass, row: Int, into t: UnsafeMutablePointer<Float>) {
    // Keras draws the height shifts, then the width shifts, as fractions times the size.
    let dy = uniform(p, draw: 0, row: row, minval: heightFactor.0, maxval: heightFactor.1) * Float(imageHeight)
    let dx = uniform(p, draw: 1, row: row, minval: widthFactor.0, maxval: widthFactor.1) * Float(imageWidth)
    // Keras's _get_translation_matrix: [1, 0, -dx, 0, 1, -dy, 0, 0].
    t[0] = 1
    t[1] = 0
    t[2] = -dx
    t[3] = 0
    t[4] = 1
    t[5] = -dy
    t[6] = 0
    t[7] = 0
  }

  public override func config() -> [String: JSONValue] {
    var c = samplingConfig
    c["height_factor"] = factorsJSON.0
    c["width_factor"] = factorsJSON.1
    return c
  }
}

extension RandomTranslation {
  public convenience init(config c: LayerConfig) throws {
    let (fill, value, interpolation) = try c.sampling()
    let range: (Double) -> Bool = { $0 >= -1 && $0 <= 1 }
    try self.init(
      heightFactor: RandomZoom.zoomFactor(
        c.json["height_factor"], key: "height_factor", context: c.context, inRange: range),
      widthFactor: RandomZoom.zoomFactor(
        c.json["width_factor"], key: "width_factor", context: c.context, inRange: range),
      fillMode: fill, interpolation: interpolation, seed: c.optionalInt("seed"), fillValue: value, name: c.name)
    // Keras writes the factors back as given.
    factorsJSON = (c.json["height_factor"] ?? .null, c.json["width_factor"] ?? .null)
  }
}
