/// Keras's MaxPooling1D (channels_last): the maximum of each window of steps, per channel.
/// Shapes per sample: x (steps, C), y (outSteps, C). Forward keeps each output's argmax in
/// scratch for backward.
public final class MaxPooling1D: Pooling1D {
  public init(
    _ poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try super.init(
      poolSize: poolSize, strides: strides, padding: padding, name: name,
      defaultPrefix: "max_pooling1d",
      kind: "MaxPooling1D")
  }

  public override var className: String { "MaxPooling1D" }

  public override func build(_ inputShapes: [[Int]]) throws {
    try super.build(inputShapes)
    // The argmax is stored as a Float: offsets must stay exact.
    guard window!.inputWidth <= 1 << 24 else {
      throw DLPError.shape(
        "MaxPooling1D '\(name)': inputs of more than 2^24 values per sample are not supported")
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

extension MaxPooling1D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    let k = try c.pooling1D()
    try self.init(k.pool, strides: k.strides, padding: k.padding, name: c.name)
  }
}
