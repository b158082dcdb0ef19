/// Keras's Conv1D (channels_last, groups 1): `y = activation(conv(x, W) + b)` with padding
/// valid, same or causal, strides and dilation. Shapes per sample: x (steps, in), y (outSteps,
/// filters); kernel (kernelSize, in, filters), bias (filters). One sgemm per batch over the
/// im2col matrix: y (batch * outSteps, filters) = cols (batch * outSteps, kernelSize * in) x W.
public final class Conv1D: Layer, ActivatedLayer {
  public let filters: Int
  public let kernelSize: Int
  public let strides: Int
  public let dilationRate: Int
  public let padding: Padding1D
  public let activation: Activation
  public let useBias: Bool
  public let kernelInitializer: Initializer
  public let biasInitializer: Initializer
  public let kernelRegularizer: Regularizer?
  public let biasRegularizer: Regularizer?
  /// Fixed by `build`.
  public private(set) var window: Window1D?
  /// The kernel's taps transposed, (filters, in) each, for the input gradient (`ConvTaps1D`).
  private var transposedKernel = UnsafeMutablePointer<Float>.allocate(capacity: 1)

  deinit { transposedKernel.deallocate() }

  public init(
    _ filters: Int, kernelSize: Int, strides: Int = 1, padding: Padding1D = .valid,
    dilationRate: Int = 1,
    activation: Activation = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform,
    biasInitializer: Initializer = .zeros, kernelRegularizer: Regularizer? = nil,
    biasRegularizer: Regularizer? = nil,
    name: String? = nil
  ) throws {
    let context = "Conv1D '\(name ?? "conv1d")'"
    for (key, v) in [
      ("filters", filters), ("kernel_size", kernelSize), ("strides", strides),
      ("dilation_rate", dilationRate),
    ]
    where v <= 0 {
      throw DLPError.config("\(context): expected a positive \(key). Received: \(key)=\(v)")
    }
    if strides > 1 && dilationRate > 1 {
      throw DLPError.config(
        "\(context): `strides > 1` not supported in conjunction with `dilation_rate > 1`. Received: strides=\(strides) and dilation_rate=\(dilationRate)"
      )
    }
    self.filters = filters
    self.kernelSize = kernelSize
    self.strides = strides
    self.dilationRate = dilationRate
    self.padding = padding
    self.activation = activation
    self.useBias = useBias
    self.kernelInitializer = kernelInitializer
    self.biasInitializer = biasInitializer
    self.kernelRegularizer = kernelRegularizer
    self.biasRegularizer = biasRegularizer
    super.init(name: name, defaultPrefix: "conv1d")
  }

  public override var className: String { "Conv1D" }

  func geometry(_ shapes: [[Int]]) throws -> Window1D {
    try requireSingleInput(shapes)
    return try Window1D(
      input: shapes[0], kernel: kernelSize, stride: strides, dilation: dilationRate,
      padding: padding,
      context: "Conv1D '\(name)'")
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    [try geometry(inputShapes).outSteps, filters]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let g = try geometry(inputShapes)
    window = g
    addWeight(
      "kernel", shape: [kernelSize, g.channels, filters], initializer: kernelInitializer,
      regularizer: kernelRegularizer)
    transposedKernel.deallocate()
    transposedKernel = .allocate(capacity: kernelSize * g.channels * filters)
    if useBias {
      addWeight(
        "bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer)
    }
  }

  /// Stride 1 (the book's convnets): one sgemm per kernel tap (`ConvTaps1D`); otherwise
  /// an im2col matrix and one sgemm.
  var usesTaps: Bool { strides == 1 && !(window?.isPointwise ?? true) }

  /// Taps: the padded inputs (then their gradient) and the uncompacted outputs (then the
  /// padded output gradient). im2col: the column matrix, reused for its gradient in backward.
  public override func scratchWidths() -> [Int] {
    guard let g = window, !g.isPointwise else { return [] }
    if usesTaps {
      return [
        g.paddedSteps == g.steps ? 0 : g.paddedSteps * g.channels,
        ConvTaps1D.fullWidth(g, filters: filters),
      ]
    }
    return [g.outSteps * g.patchWidth]
  }

  public override func forward(_ p: ForwardPass) {
    let g = window!
    let rows = p.batch * g.outSteps
    let (k, f, y) = (g.patchWidth, filters, p.output)
    let bias: UnsafePointer<Float>? = useBias ? UnsafePointer(weight(1)) : nil
    let relu = activation == .relu && !p.deferActivation
    if usesTaps {
      ConvTaps1D.forward(
        p.inputs[0], batch: p.batch, g, kernel: weight(0), filters: f, padded: p.scratch[0], into: y
      )
      if let bias {
        Elementwise.addBias(y, rows: rows, width: f, bias: bias, relu: relu)
      } else if relu {
        Elementwise.reluForward(y, count: rows * f)
      }
      if !relu && !p.deferActivation { activation.apply(y, rows: rows, width: f) }
      return
    }
    let cols: UnsafePointer<Float>
    if g.isPointwise {
      cols = p.inputs[0]
    } else {
      Im2Col1D.im2col(p.inputs[0], batch: p.batch, g, into: p.scratch[0])
      cols = UnsafePointer(p.scratch[0])
    }
    // y = cols W  (rows, filters), then bias and ReLU on each block while it is in cache.
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: f, k: k, a: cols, lda: k, b: weight(0),
      ldb: f, c: y, ldc: f
    ) { rowRange, columns in
      guard bias != nil || relu else { return }
      Elementwise.addBias(y, rows: rowRange, columns: columns, width: f, bias: bias, relu: relu)
    }
    if !relu && !p.deferActivation { activation.apply(y, rows: rows, width: f) }
  }

  public override func backward(_ p: BackwardPass) {
    let g = window!
    let rows = p.batch * g.outSteps
    let (k, f, dz) = (g.patchWidth, filters, p.outputGrad)
    let biasGrad = p.computeWeightGrads && useBias ? weightGrad(1) : nil
    // dz = dy * activation'(y), with db = column sums of dz in the same pass for ReLU.
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
    if usesTaps {
      ConvTaps1D.backward(
        dz, x: p.inputs[0], batch: p.batch, g, kernel: weight(0), filters: f,
        kernelGrad: p.computeWeightGrads ? weightGrad(0) : nil, accumulate: p.accumulateWeightGrads,
        inputGrad: p.inputGrads[0], padded: p.scratch[0], full: p.scratch[1],
        transposed: transposedKernel)
      return
    }
    let cols = g.isPointwise ? UnsafeMutablePointer(mutating: p.inputs[0]) : p.scratch[0]
    if p.computeWeightGrads {
      // dW = cols^T dz  (kernelSize * in, filters)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: k, n: f, k: rows, a: cols, lda: k, b: dz, ldb: f,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(0), ldc: f)
    }
    guard let dx = p.inputGrads[0] else { return }
    // dCols = dz W^T over the im2col matrix (the next forward rebuilds it), then back to steps.
    let dCols = g.isPointwise ? dx : cols
    BLAS.gemm(
      transposeA: false, transposeB: true, m: rows, n: k, k: f, a: dz, lda: f, b: weight(0), ldb: f,
      c: dCols, ldc: k)
    if !g.isPointwise { Im2Col1D.col2im(cols, batch: p.batch, g, into: dx) }
  }

  public override func config() -> [String: JSONValue] {
    [
      "filters": JSONValue(filters), "kernel_size": [JSONValue(kernelSize)],
      "strides": [JSONValue(strides)],
      "padding": .string(padding.rawValue), "data_format": "channels_last",
      "dilation_rate": [JSONValue(dilationRate)],
      "groups": 1, "activation": JSONValue(activation.rawValue), "use_bias": .bool(useBias),
      "kernel_initializer": KerasObjects.initializer(kernelInitializer),
      "bias_initializer": KerasObjects.initializer(biasInitializer),
      "kernel_regularizer": KerasObjects.regularizer(kernelRegularizer),
      "bias_regularizer": KerasObjects.regularizer(biasRegularizer),
      "activity_regularizer": nil, "kernel_constraint": nil, "bias_constraint": nil,
    ]
  }
}

extension Conv1D {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    try c.refuseUnsupported(["activity_regularizer", "kernel_constraint", "bias_constraint"])
    let groups = c.optionalInt("groups") ?? 1
    guard groups == 1 else {
      throw DLPError.config(
        "\(c.context): key 'groups' must be 1 (grouped convolutions are not supported), got \(groups)"
      )
    }
    try self.init(
      c.int("filters"), kernelSize: c.ints("kernel_size", count: 1)[0],
      strides: c.ints("strides", count: 1, default: [1])[0],
      padding: Padding1D(keras: c.string("padding", default: "valid"), context: c.context),
      dilationRate: c.ints("dilation_rate", count: 1, default: [1])[0],
      activation: c.activation("activation"),
      useBias: c.bool("use_bias", default: true),
      kernelInitializer: c.initializer("kernel_initializer", default: .glorotUniform),
      biasInitializer: c.initializer("bias_initializer", default: .zeros),
      kernelRegularizer: c.regularizer("kernel_regularizer"),
      biasRegularizer: c.regularizer("bias_regularizer"),
      name: c.name)
  }
}
