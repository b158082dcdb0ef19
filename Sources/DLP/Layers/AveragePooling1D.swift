/// Keras's AveragePooling1D (channels_last): the mean of each window of steps, per channel;
/// with 'same' padding, windows at the ends average only the steps they cover.
/// Shapes per sample: x (steps, C), y (outSteps, C).
public final class AveragePooling1D: Pooling1D {
  public init(
    _ poolSize: Int = 2, strides: Int? = nil, padding: Padding = .valid, name: String? = nil
  ) throws {
    try super.init(
      poolSize: poolSize, strides: strides, padding: padding, name: name,
      defaultPrefix: "average_pooling1d",
      kind: "AveragePooling1D")
  }

  public override var className: String { "AveragePooling1D" }

  public override func forward(_ p: ForwardPass) {
    Pooling.averageForward(p.inputs[0], batch: p.batch, window!, output: p.output)
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    Pooling.averageBackward(p.outputGrad, batch: p.batch, window!, into: dx)
  }
}

extension AveragePooling1D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    let k = try c.pooling1D()
    try self.init(k.pool, strides: k.strides, padding: k.padding, name: c.name)
  }
}
