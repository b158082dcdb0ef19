/// Keras's RandomZoom: in training, each image is scaled about its centre by 1 + a factor
/// drawn in [lower, upper] of `height_factor` (and of `width_factor`, else the same factor for
/// both axes; positive values zoom out), resampled with `fill_mode` and `interpolation`; the
/// identity at inference.
public final class RandomZoom: AffineAugmentation {
  public let heightFactor: (Double, Double)
  public let widthFactor: (Double, Double)?
  /// The factors as given (Keras writes them back unchanged).
  var heightFactorJSON: JSONValue
  var widthFactorJSON: JSONValue

  public init(
    heightFactor: (Double, Double), widthFactor: (Double, Double)? = nil, fillMode: FillMode = .reflect,
    interpolation: Interpolation = .bilinear, seed: Int? = nil, fillValue: Float = 0, name: String? = nil
  ) throws {
    for (key, f) in [("height_factor", heightFactor), ("width_factor", widthFactor ?? heightFactor)]
    where !(f.0 <= f.1 && f.0 > -1 && f.1 <= 1) {
      throw DLPError.config("RandomZoom: expected \(key) in (-1, 1] with lower <= upper. Received: \(key)=\(f)")
    }
    self.heightFactor = heightFactor
    self.widthFactor = widthFactor
    heightFactorJSON = [JSONValue(heightFactor.0), JSONValue(heightFactor.1)]
    widthFactorJSON = widthFactor.map { [JSONValue($0.0), JSONValue($0.1)] } ?? .null
    super.init(
      fillMode: fillMode, fillValue: fillValue, interpolation: interpolation, seed: seed, name: name,
      defaultPrefix: "random_zoom")
  }

  /// `RandomZoom(0.2)`: zoom factors in [-0.2, 0.2] on both axes.
  public convenience init(_ factor: Double, fillMode: FillMode = .reflect, seed: Int? = nil, name: String? = nil) throws
  {
    try self.init(heightFactor: (-Swift.abs(factor), Swift.abs(factor)), fillMode: fillMode, seed: seed, name: name)
  }

  public override var className: String { "RandomZoom" }
  public override var drawsPerCall: Int { widthFactor == nil ? 1 : 2 }

  public override func transform(_ p: ForwardPass, row: Int, into t: UnsafeMutablePointer<Float>) {
    let zy = uniform(p, draw: 0, row: row, minval: 1 + heightFactor.0, maxval: 1 + heightFactor.1)
    let zx = widthFactor.map { uniform(p, draw: 1, row: row, minval: 1 + $0.0, maxval: 1 + $0.1) } ?? zy
    // Keras's _get_zoom_matrix: [zx, 0, (W - 1) / 2 * (1 - zx), 0, zy, (H - 1) / 2 * (1 - zy), 0, 0].
    t[0] = zx
    t[1] = 0
    t[2] = (Float(imageWidth) - 1) / 2 * (1 - zx)
    t[3] = 0
    t[4] = zy
    t[5] = (Float(imageHeight) - 1) / 2 * (1 - zy)
    t[6] = 0
    t[7] = 0
  }

  public override func config() -> [String: JSONValue] {
    var c = samplingConfig
    c["height_factor"] = heightFactorJSON
    c["width_factor"] = widthFactorJSON
    return c
  }
}

extension RandomZoom {
  public convenience init(config c: LayerConfig) throws {
    let (fill, value, interpolation) = try c.sampling()
    let height = try RandomZoom.zoomFactor(c.json["height_factor"], key: "height_factor", context: c.context)
    let widthJSON = c.json["width_factor"] ?? .null
    let width = widthJSON.isNull ? nil : try RandomZoom.zoomFactor(widthJSON, key: "width_factor", context: c.context)
    try self.init(
      heightFactor: height, widthFactor: width, fillMode: fill, interpolation: interpolation,
      seed: c.optionalInt("seed"), fillValue: value, name: c.name)
    heightFactorJSON = c.json["height_factor"] ?? .null
    widthFactorJSON = widthJSON
  }

  /// Keras's RandomZoom/RandomTranslation factor: a number f in range gives (-|f|, |f|), a
  /// list of two in range is sorted.
  static func zoomFactor(
    _ v: JSONValue?, key: String, context: String, inRange: (Double) -> Bool = { $0 > -1 && $0 <= 1 }
  ) throws -> (Double, Double) {
    if let f = v?.double, inRange(f) { return (-Swift.abs(f), Swift.abs(f)) }
    if let a = v?.array?.compactMap(\.double), a.count == 2, a.allSatisfy(inRange) {
      return (Swift.min(a[0], a[1]), Swift.max(a[0], a[1]))
    }
    throw DLPError.config(
      "\(context): the `\(key)` argument should be a number (or a list of two numbers) in range. Received: \(key)=\(v?.serialized() ?? "nothing")"
    )
  }
}
