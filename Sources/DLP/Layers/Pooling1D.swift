/// What MaxPooling1D and AveragePooling1D share: Keras's pool_size, strides (default: the pool
/// size), padding (valid or same), channels_last. A (steps, channels) input is pooled as a
/// (1, steps, channels) image with (1, pool) windows, through the 2-D pooling kernels.
public class Pooling1D: Layer {
  public let poolSize: Int
  public let strides: Int
  public let padding: Padding
  /// Fixed by `build`.
  public private(set) var window: Window2D?

  init(
    poolSize: Int, strides: Int?, padding: Padding, name: String?, defaultPrefix: String,
    kind: String
  ) throws {
    let context = "\(kind) '\(name ?? defaultPrefix)'"
    guard poolSize > 0, (strides ?? 1) > 0 else {
      throw DLPError.config(
        "\(context): expected a positive pool_size and strides. Received: pool_size=\(poolSize), strides=\(strides.map(String.init) ?? "None")"
      )
    }
    self.poolSize = poolSize
    self.strides = strides ?? poolSize
    self.padding = padding
    super.init(name: name, defaultPrefix: defaultPrefix)
  }

  func geometry(_ shapes: [[Int]]) throws -> Window2D {
    try requireSingleInput(shapes)
    guard shapes[0].count == 2 else {
      throw DLPError.shape(
        "\(className) '\(name)' expects inputs of shape (None, steps, channels); received \(describeShapes(shapes))"
      )
    }
    return try Window2D(
      input: [1] + shapes[0], kernel: (1, poolSize), strides: (1, strides), padding: padding,
      context: "\(className) '\(name)'")
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let g = try geometry(inputShapes)
    return [g.outW, g.channels]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    window = try geometry(inputShapes)
  }

  public override func config() -> [String: JSONValue] {
    [
      "pool_size": [JSONValue(poolSize)], "padding": .string(padding.rawValue),
      "strides": [JSONValue(strides)],
      "data_format": "channels_last",
    ]
  }
}

extension LayerConfig {
  /// Keras's 1-D pooling keys: pool_size (2), strides (None: the pool size), padding.
  func pooling1D() throws -> (pool: Int, strides: Int?, padding: Padding) {
    try requireChannelsLast()
    let pool = try ints("pool_size", count: 1, default: [2])[0]
    let strides = (json["strides"]?.isNull ?? true) ? nil : try ints("strides", count: 1)[0]
    return (pool, strides, try padding())
  }
}
