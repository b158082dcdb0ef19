/// Keras's MaxPooling2D (channels_last): the maximum of each window, per channel.
/// Shapes per sample: x (H, W, C), y (outH, outW, C). Forward keeps each output's argmax (its
/// offset in the input sample) in scratch for backward.
public final class MaxPooling2D: Pooling2D {
  public init(
    poolSize: [Int] = [2, 2], strides: [Int]? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try super.init(
      poolSize: poolSize, strides: strides, padding: padding, name: name,
      defaultPrefix: "max_pooling2d",
      kind: "MaxPooling2D")
  }

  /// `MaxPooling2D(2)`: a square pool, strides equal to it.
  public convenience init(
    _ poolSize: Int, strides: Int? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try self.init(
      poolSize: [poolSize, poolSize], strides: strides.map { [$0, $0] }, padding: padding,
      name: name)
  }

  public override var className: String { "MaxPooling2D" }

  public override func build(_ inputShapes: [[Int]]) throws {
    try super.build(inputShapes)
    // The argmax is stored as a Float: offsets must stay exact.
    guard window!.inputWidth <= 1 << 24 else {
      throw DLPError.shape(
        "MaxPooling2D '\(name)': inputs of more than 2^24 values per sample are not supported")
    }
  }

  /// The argmax of every output value.
  public override func scratchWidths() -> [Int] { [outputShape.reduce(1, *)] }

  public override func forward(_ p: ForwardPass) {
    Pooling.maxForward(p.inputs[0], batch: p.batch, window!, output: p.output, argmax: p.scratch[0])
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    Pooling.maxBackward(p.outputGrad, argmax: p.scratch[0], batch: p.batch, window!, into: dx)
  }
}

extension MaxPooling2D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let pool = try c.ints("pool_size", count: 2, default: [2, 2])
    let strides: [Int]? =
      (c.json["strides"]?.isNull ?? true) ? nil : try c.ints("strides", count: 2)
    try self.init(poolSize: pool, strides: strides, padding: c.padding(), name: c.name)
  }
}
