/// Keras's Conv2D (channels_last, dilation 1, groups 1): `y = activation(conv(x, W) + b)`.
/// Shapes per sample: x (H, W, in), y (outH, outW, filters); kernel (kh, kw, in, filters),
/// bias (filters). Computed as one sgemm per batch over the im2col matrix:
/// y (batch * outH * outW, filters) = cols (batch * outH * outW, kh * kw * in) x W (kh * kw * in, filters).
public final class Conv2D: Layer, ActivatedLayer {
  public let filters: Int
  public let kernelSize: (Int, Int)
  public let strides: (Int, Int)
  public let padding: Padding
  public let activation: Activation
  public let useBias: Bool
  public let kernelInitializer: Initializer
  public let biasInitializer: Initializer
  public let kernelRegularizer: Regularizer?
  public let biasRegularizer: Regularizer?
  /// Fixed by `build`.
  public private(set) var window: Window2D?

  public init(
    _ filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
    dilationRate: [Int] = [1, 1], activation: Activation = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
    kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil, name: String? = nil
  ) throws {
    let context = "Conv2D '\(name ?? "conv2d")'"
    guard filters > 0 else {
      throw DLPError.config(
        "\(context): expected a positive number of filters. Received: filters=\(filters)")
    }
    let k = try positivePair(
      kernelSize.count == 1 ? kernelSize + kernelSize : kernelSize, "kernel_size", context)
    let s = try positivePair(strides.count == 1 ? strides + strides : strides, "strides", context)
    guard dilationRate.allSatisfy({ $0 == 1 }) else {
      throw DLPError.config(
        "\(context): only dilation_rate 1 is supported. Received: dilation_rate=\(dilationRate)")
    }
    self.filters = filters
    self.kernelSize = k
    self.strides = s
    self.padding = padding
    self.activation = activation
    self.useBias = useBias
    self.kernelInitializer = kernelInitializer
    self.biasInitializer = biasInitializer
    self.kernelRegularizer = kernelRegularizer
    self.biasRegularizer = biasRegularizer
    super.init(name: name, defaultPrefix: "conv2d")
  }

  /// `Conv2D(32, kernelSize: 3, activation: .relu)`: a square kernel.
  public convenience init(
    _ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding = .valid,
    activation: Activation = .linear,
    useBias: Bool = true, name: String? = nil
  ) throws {
    try self.init(
      filters, kernelSize: [kernelSize, kernelSize], strides: [strides, strides], padding: padding,
      activation: activation,
      useBias: useBias, name: name)
  }

  public override var className: String { "Conv2D" }

  func geometry(_ shapes: [[Int]]) throws -> Window2D {
    try requireSingleInput(shapes)
    return try Window2D(
      input: shapes[0], kernel: kernelSize, strides: strides, padding: padding,
      context: "Conv2D '\(name)'")
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let g = try geometry(inputShapes)
    return [g.outH, g.outW, filters]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let g = try geometry(inputShapes)
    window = g
    addWeight(
      "kernel", shape: [kernelSize.0, kernelSize.1, g.channels, filters],
      initializer: kernelInitializer,
      regularizer: kernelRegularizer)
    if useBias {
      addWeight(
        "bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer)
    }
  }

  /// The im2col matrix of the batch (forward), reused for its gradient in backward.
  public override func scratchWidths() -> [Int] {
    guard let g = window, !g.isPointwise else { return [] }
    return [g.positions * g.patchWidth]
  }

  public override func forward(_ p: ForwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let k = g.patchWidth
    let cols: UnsafePointer<Float>
    if g.isPointwise {
      cols = p.inputs[0]
    } else {
      Im2Col.im2col(p.inputs[0], batch: p.batch, g, into: p.scratch[0])
      cols = UnsafePointer(p.scratch[0])
    }
    let y = p.output
    let f = filters
    // y = cols W  (rows, filters)
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: f, k: k, a: cols, lda: k, b: weight(0),
      ldb: f, c: y, ldc: f)
    // Bias and ReLU in one pass (the common case); other activations after the bias.
    let relu = activation == .relu && !p.deferActivation
    if useBias {
      Elementwise.addBias(y, rows: rows, width: f, bias: weight(1), relu: relu)
    } else if relu {
      Elementwise.reluForward(y, count: rows * f)
    }
    if !relu && !p.deferActivation { activation.apply(y, rows: rows, width: f) }
  }

  public override func backward(_ p: BackwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let k = g.patchWidth
    let f = filters
    let dz = p.outputGrad
    let biasGrad = p.computeWeightGrads && useBias ? weightGrad(1) : nil
    // dz = dy * activation'(y), fused with db = column sums of dz for ReLU (one pass).
    if activation == .relu && !p.deferActivation {
      Elementwise.reluBackward(
        output: p.output, grad: dz, rows: rows, width: f, columnSums: biasGrad,
        accumulate: p.accumulateWeightGrads)
    } else {
      if !p.deferActivation {
        activation.backward(output: p.output, grad: dz, rows: rows, width: f)
      }
      if let db = biasGrad {
        Elementwise.columnSums(
          dz, rows: rows, width: f, into: db, accumulate: p.accumulateWeightGrads)
      }
    }
    let cols = g.isPointwise ? UnsafeMutablePointer(mutating: p.inputs[0]) : p.scratch[0]
    if p.computeWeightGrads {
      // dW = cols^T dz  (kh * kw * in, filters)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: k, n: f, k: rows, a: cols, lda: k, b: dz, ldb: f,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(0), ldc: f)
    }
    guard let dx = p.inputGrads[0] else { return }
    if g.isPointwise {
      // dx = dz W^T  (rows, in)
      BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: k, k: f, a: dz, lda: f, b: weight(0),
        ldb: f, c: dx, ldc: k)
      return
    }
    // dCols = dz W^T  (rows, kh * kw * in), written over the im2col matrix (no longer needed:
    // the next forward rebuilds it), then scattered back onto the input positions.
    BLAS.gemm(
      transposeA: false, transposeB: true, m: rows, n: k, k: f, a: dz, lda: f, b: weight(0), ldb: f,
      c: cols, ldc: k)
    Im2Col.col2im(cols, batch: p.batch, g, into: dx)
  }

  public override func config() -> [String: JSONValue] {
    [
      "filters": JSONValue(filters),
      "kernel_size": [JSONValue(kernelSize.0), JSONValue(kernelSize.1)],
      "strides": [JSONValue(strides.0), JSONValue(strides.1)],
      "padding": .string(padding.rawValue),
      "data_format": "channels_last",
      "dilation_rate": [1, 1],
      "groups": 1,
      "activation": JSONValue(activation.rawValue),
      "use_bias": .bool(useBias),
      "kernel_initializer": KerasObjects.initializer(kernelInitializer),
      "bias_initializer": KerasObjects.initializer(biasInitializer),
      "kernel_regularizer": KerasObjects.regularizer(kernelRegularizer),
      "bias_regularizer": KerasObjects.regularizer(biasRegularizer),
      "activity_regularizer": nil, "kernel_constraint": nil, "bias_constraint": nil,
    ]
  }
}

extension Conv2D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let groups = c.optionalInt("groups") ?? 1
    guard groups == 1 else {
      throw DLPError.config(
        "\(c.context): key 'groups' must be 1 (grouped convolutions are not supported), got \(groups)"
      )
    }
    let dilation = try c.ints("dilation_rate", count: 2, default: [1, 1])
    guard dilation == [1, 1] else {
      throw DLPError.config(
        "\(c.context): key 'dilation_rate' must be 1 (dilated convolutions are not supported), got \(dilation)"
      )
    }
    for key in ["activity_regularizer", "kernel_constraint", "bias_constraint"]
    where !(c.json[key]?.isNull ?? true) {
      throw DLPError.config(
        "\(c.context): key '\(key)' is not supported, got \(c.json[key]!.serialized())")
    }
    try self.init(
      c.int("filters"), kernelSize: c.ints("kernel_size", count: 2),
      strides: c.ints("strides", count: 2, default: [1, 1]),
      padding: c.padding(), activation: c.activation("activation"),
      useBias: c.bool("use_bias", default: true),
      kernelInitializer: c.initializer("kernel_initializer", default: .glorotUniform),
      biasInitializer: c.initializer("bias_initializer", default: .zeros),
      kernelRegularizer: c.regularizer("kernel_regularizer"),
      biasRegularizer: c.regularizer("bias_regularizer"),
      name: c.name)
  }
}
