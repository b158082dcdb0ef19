/// Keras's AveragePooling2D (channels_last): the mean of each window, per channel; with
/// 'same' padding, windows at the border average only the input positions they cover.
/// Shapes per sample: x (H, W, C), y (outH, outW, C).
public final class AveragePooling2D: Pooling2D {
  public init(
    poolSize: [Int] = [2, 2], strides: [Int]? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try super.init(
      poolSize: poolSize, strides: strides, padding: padding, name: name,
      defaultPrefix: "average_pooling2d",
      kind: "AveragePooling2D")
  }

  /// `AveragePooling2D(2)`: a square pool, strides equal to it.
  public convenience init(
    _ poolSize: Int, strides: Int? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try self.init(
      poolSize: [poolSize, poolSize], strides: strides.map { [$0, $0] }, padding: padding,
      name: name)
  }

  public override var className: String { "AveragePooling2D" }

  public override func forward(_ p: ForwardPass) {
    Pooling.averageForward(p.inputs[0], batch: p.batch, window!, output: p.output)
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    Pooling.averageBackward(p.outputGrad, batch: p.batch, window!, into: dx)
  }
}

extension AveragePooling2D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let pool = try c.ints("pool_size", count: 2, default: [2, 2])
    let strides: [Int]? =
      (c.json["strides"]?.isNull ?? true) ? nil : try c.ints("strides", count: 2)
    try self.init(poolSize: pool, strides: strides, padding: c.padding(), name: c.name)
  }
}
