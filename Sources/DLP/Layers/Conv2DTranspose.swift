/// Keras's Conv2DTranspose (channels_last, dilation 1): the adjoint of a strided convolution,
/// `jax.lax.conv_transpose(..., transpose_kernel=True)`. Per sample x (H, W, in) -> y (outH,
/// outW, filters); kernel (kh, kw, filters, in) (Keras's order: output channels before input
/// ones), bias (filters). Input pixel (i, j) adds x[i, j] . kernel[a, b, f, :] to output pixel
/// (i * sh + a - padTop, j * sw + b - padLeft).
///
/// Computed as a matrix product and a col2im: cols (batch * H * W, kh * kw * filters) =
/// x (batch * H * W, in) . K^T, where K is the kernel seen as a (kh * kw * filters, in) matrix;
/// col2im then adds each row onto the output window it belongs to. Backward is the converse:
/// im2col of dy, then two products.
public final class Conv2DTranspose: Layer, ActivatedLayer {
  public let filters: Int
  public let kernelSize: (Int, Int)
  public let strides: (Int, Int)
  public let padding: Padding
  /// Keras's `output_padding` (nil: the default for the padding mode).
  public let outputPadding: (Int, Int)?
  public let activation: Activation
  public let useBias: Bool
  public let kernelInitializer: Initializer
  public let biasInitializer: Initializer
  public let kernelRegularizer: Regularizer?
  public let biasRegularizer: Regularizer?
  /// The output seen as a convolution's input: its windows are this layer's input pixels.
  var window: Window2D?

  public init(
    _ filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid,
    outputPadding: [Int]? = nil, activation: Activation = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
    kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil, name: String? = nil
  ) throws {
    let context = "Conv2DTranspose '\(name ?? "conv2d_transpose")'"
    guard filters > 0 else {
      throw DLPError.config("\(context): expected a positive number of filters. Received: filters=\(filters)")
    }
    let k = try positivePair(kernelSize.count == 1 ? kernelSize + kernelSize : kernelSize, "kernel_size", context)
    let s = try positivePair(strides.count == 1 ? strides + strides : strides, "strides", context)
    var op: (Int, Int)?
    if let o = outputPadding {
      let pair = o.count == 1 ? o + o : o
      guard pair.count == 2, pair[0] >= 0, pair[1] >= 0, pair[0] < s.0, pair[1] < s.1 else {
        throw DLPError.config(
          "\(context): expected output_padding smaller than the strides \(strides). Received: output_padding=\(o)")
      }
      op = (pair[0], pair[1])
    }
    self.filters = filters
    self.kernelSize = k
    self.strides = s
    self.padding = padding
    self.outputPadding = op
    self.activation = activation
    self.useBias = useBias
    self.kernelInitializer = kernelInitializer
    self.biasInitializer = biasInitializer
    self.kernelRegularizer = kernelRegularizer
    self.biasRegularizer = biasRegularizer
    super.init(name: name, defaultPrefix: "conv2d_transpose")
  }

  public override var className: String { "Conv2DTranspose" }

  /// Output size and leading crop along one axis, as Keras's JAX backend pads the
  /// lhs-dilated input (`_convert_conv_transpose_padding_args_from_keras_to_jax`).
  static func axis(_ size: Int, _ k: Int, _ stride: Int, _ padding: Padding, _ outputPadding: Int?) -> (
    out: Int, padBefore: Int
  ) {
    switch padding {
    case .valid:
      let op = outputPadding ?? (Swift.max(k, stride) - k)
      return ((size - 1) * stride + k + op, 0)
    case .same:
      let padLength = outputPadding.map { k + k % 2 - 2 + $0 } ?? (stride + k - 2)
      let left = Swift.min(padLength / 2 + padLength % 2, k - 1)
      let out = outputPadding.map { (size - 1) * stride + k % 2 + $0 } ?? size * stride
      return (out, k - 1 - left)
    }
  }

  func geometry(_ shapes: [[Int]]) throws -> Window2D {
    try requireSingleInput(shapes)
    let s = shapes[0]
    guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
      throw DLPError.shape(
        "Conv2DTranspose '\(name)' expects inputs of shape (None, height, width, channels); received \(describeShapes(shapes))"
      )
    }
    let h = Self.axis(s[0], kernelSize.0, strides.0, padding, outputPadding?.0)
    let w = Self.axis(s[1], kernelSize.1, strides.1, padding, outputPadding?.1)
    return Window2D(
      explicitInput: [h.out, w.out, filters], kernel: kernelSize, strides: strides,
      padTop: h.padBefore, padLeft: w.padBefore, outH: s[0], outW: s[1])
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let g = try geometry(inputShapes)
    return [g.inH, g.inW, filters]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    window = try geometry(inputShapes)
    addWeight(
      "kernel", shape: [kernelSize.0, kernelSize.1, filters, inputShapes[0][2]], initializer: kernelInitializer,
      regularizer: kernelRegularizer)
    if useBias { addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
  }

  var inChannels: Int { inputShapes[0][2] }

  /// The column matrix (one row per input pixel).
  public override func scratchWidths() -> [Int] { [window!.positions * window!.patchWidth] }

  public override func forward(_ p: ForwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let (k, cin) = (g.patchWidth, inChannels)
    let cols = p.scratch[0]
    // cols = x K^T  (rows, kh * kw * filters)
    BLAS.gemm(
      transposeA: false, transposeB: true, m: rows, n: k, k: cin, a: p.inputs[0], lda: cin, b: weight(0), ldb: cin,
      c: cols, ldc: k)
    Im2Col.col2im(cols, batch: p.batch, g, into: p.output)
    let y = p.output
    let count = p.batch * g.inputWidth
    let relu = activation == .relu && !p.deferActivation
    if useBias {
      Elementwise.addBias(y, rows: count / filters, width: filters, bias: weight(1), relu: relu)
    } else if relu {
      Elementwise.reluForward(y, count: count)
    }
    if !relu && !p.deferActivation { activation.apply(y, rows: count / filters, width: filters) }
  }

  public override func backward(_ p: BackwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let (k, cin, f) = (g.patchWidth, inChannels, filters)
    let outRows = p.batch * g.inH * g.inW
    let dz = p.outputGrad
    let biasGrad = p.computeWeightGrads && useBias ? weightGrad(1) : nil
    if activation == .relu && !p.deferActivation {
      Elementwise.reluBackward(
        output: p.output, grad: dz, rows: outRows, width: f, columnSums: biasGrad, accumulate: p.accumulateWeightGrads)
    } else {
      if !p.deferActivation { activation.backward(output: p.output, grad: dz, rows: outRows, width: f) }
      if let db = biasGrad {
        Elementwise.columnSums(dz, rows: outRows, width: f, into: db, accumulate: p.accumulateWeightGrads)
      }
    }
    let dcols = p.scratch[0]
    Im2Col.im2col(dz, batch: p.batch, g, into: dcols)
    if p.computeWeightGrads {
      // dK = dcols^T x  (kh * kw * filters, in)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: k, n: cin, k: rows, a: dcols, lda: k, b: p.inputs[0], ldb: cin,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(0), ldc: cin)
    }
    guard let dx = p.inputGrads[0] else { return }
    // dx = dcols K  (rows, in)
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: cin, k: k, a: dcols, lda: k, b: weight(0), ldb: cin,
      c: dx, ldc: cin)
  }

  public override func config() -> [String: JSONValue] {
    [
      "filters": JSONValue(filters), "kernel_size": [JSONValue(kernelSize.0), JSONValue(kernelSize.1)],
      "strides": [JSONValue(strides.0), JSONValue(strides.1)], "padding": .string(padding.rawValue),
      "output_padding": outputPadding.map { [JSONValue($0.0), JSONValue($0.1)] } ?? .null,
      "data_format": "channels_last", "dilation_rate": [1, 1], "activation": JSONValue(activation.rawValue),
      "use_bias": .bool(useBias), "kernel_initializer": KerasObjects.initializer(kernelInitializer),
      "bias_initializer": KerasObjects.initializer(biasInitializer),
      "kernel_regularizer": KerasObjects.regularizer(kernelRegularizer),
      "bias_regularizer": KerasObjects.regularizer(biasRegularizer),
      "activity_regularizer": nil, "kernel_constraint": nil, "bias_constraint": nil,
    ]
  }
}

extension Conv2DTranspose {
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    try c.requireUnitDilationAndNoConstraints()
    let hasOutputPadding = !(c.json["output_padding"]?.isNull ?? true)
    try self.init(
      c.int("filters"), kernelSize: c.ints("kernel_size", count: 2),
      strides: c.ints("strides", count: 2, default: [1, 1]),
      padding: c.padding(), outputPadding: hasOutputPadding ? c.ints("output_padding", count: 2) : nil,
      activation: c.activation("activation"), useBias: c.bool("use_bias", default: true),
      kernelInitializer: c.initializer("kernel_initializer", default: .glorotUniform),
      biasInitializer: c.initializer("bias_initializer", default: .zeros),
      kernelRegularizer: c.regularizer("kernel_regularizer"), biasRegularizer: c.regularizer("bias_regularizer"),
      name: c.name)
  }
}

extension LayerConfig {
  /// dilation_rate 1 and no activity regulariser or constraints (what DLP's convolutions take).
  func requireUnitDilationAndNoConstraints(extraKeys: [String] = []) throws {
    let dilation = try ints("dilation_rate", count: 2, default: [1, 1])
    guard dilation == [1, 1] else {
      throw DLPError.config(
        "\(context): key 'dilation_rate' must be 1 (dilated convolutions are not supported), got \(dilation)")
    }
    for key in ["activity_regularizer", "kernel_constraint", "bias_constraint"] + extraKeys
    where !(json[key]?.isNull ?? true) {
      throw DLPError.config("\(context): key '\(key)' is not supported, got \(json[key]!.serialized())")
    }
  }
}

extension Window2D {
  /// A window geometry given outright: `outH` x `outW` windows over an input of `input`'s
  /// shape, the first at (-padTop, -padLeft). Windows may run past the bottom and right
  /// edges (those positions read as zeros and receive nothing).
  init(
    explicitInput input: [Int], kernel: (Int, Int), strides: (Int, Int), padTop: Int, padLeft: Int, outH: Int, outW: Int
  ) {
    (inH, inW, channels) = (input[0], input[1], input[2])
    (kernelH, kernelW) = kernel
    (strideH, strideW) = strides
    (self.padTop, self.padLeft) = (padTop, padLeft)
    (self.outH, self.outW) = (outH, outW)
  }
}
