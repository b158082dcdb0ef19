/// Keras's Activation layer: applies an activation on its own.
public final class ActivationLayer: Layer, ActivatedLayer {
  public let activation: Activation

  public init(_ activation: Activation, name: String? = nil) {
    self.activation = activation
    super.init(name: name, defaultPrefix: "activation")
  }

  public override var className: String { "Activation" }

  /// Keras passes a mask through this layer (supports_masking).
  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  public override func forward(_ p: ForwardPass) {
    let width = outputShape.reduce(1, *)
    p.output.update(from: p.inputs[0], count: p.batch * width)
    if !p.deferActivation { activation.apply(p.output, rows: p.batch * rowsPerSample, width: lastWidth) }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let width = outputShape.reduce(1, *)
    if !p.deferActivation {
      activation.backward(output: p.output, grad: p.outputGrad, rows: p.batch * rowsPerSample, width: lastWidth)
    }
    dx.update(from: p.outputGrad, count: p.batch * width)
  }

  /// Softmax acts on the last axis; element-wise activations do not care.
  private var lastWidth: Int { outputShape.last ?? 1 }
  private var rowsPerSample: Int { outputShape.dropLast().reduce(1, *) }

  public override func config() -> [String: JSONValue] { ["activation": JSONValue(activation.rawValue)] }
}
