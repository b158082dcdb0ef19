/// What MaxPooling2D and AveragePooling2D share: Keras's pool_size, strides (default: the
/// pool size), padding, channels_last, and the window geometry fixed by `build`.
public class Pooling2D: Layer {
  public let poolSize: (Int, Int)
  public let strides: (Int, Int)
  public let padding: Padding
  /// Fixed by `build`.
  public private(set) var window: Window2D?

  init(
    poolSize: [Int], strides: [Int]?, padding: Padding, name: String?, defaultPrefix: String,
    kind: String
  ) throws {
    let context = "\(kind) '\(name ?? defaultPrefix)'"
    let pool = try positivePair(
      poolSize.count == 1 ? poolSize + poolSize : poolSize, "pool_size", context)
    self.poolSize = pool
    if let s = strides {
      self.strides = try positivePair(s.count == 1 ? s + s : s, "strides", context)
    } else {
      self.strides = pool
    }
    self.padding = padding
    super.init(name: name, defaultPrefix: defaultPrefix)
  }

  func geometry(_ shapes: [[Int]]) throws -> Window2D {
    try requireSingleInput(shapes)
    return try Window2D(
      input: shapes[0], kernel: poolSize, strides: strides, padding: padding,
      context: "\(className) '\(name)'")
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let g = try geometry(inputShapes)
    return [g.outH, g.outW, g.channels]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    window = try geometry(inputShapes)
  }

  public override func config() -> [String: JSONValue] {
    [
      "pool_size": [JSONValue(poolSize.0), JSONValue(poolSize.1)],
      "padding": .string(padding.rawValue),
      "strides": [JSONValue(strides.0), JSONValue(strides.1)],
      "data_format": "channels_last",
    ]
  }
}
