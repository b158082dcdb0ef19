/// Keras's SeparableConv2D (channels_last, dilation 1): a depthwise convolution (each input
/// channel c convolved with its own `depth_multiplier` filters) then a pointwise 1x1
/// convolution, bias and activation. Per sample x (H, W, in) -> y (outH, outW, filters);
/// depthwise_kernel (kh, kw, in, dm), pointwise_kernel (1, 1, in * dm, filters), bias (filters).
///
/// The depthwise part works on the im2col matrix: d[p, c * dm + m] = sum over window offsets o of
/// cols[p, o * in + c] * D[o, c, m]; the pointwise part is one sgemm,
/// y (rows, filters) = d (rows, in * dm) . P (in * dm, filters).
public final class SeparableConv2D: Layer, ActivatedLayer {
  public let filters: Int
  public let kernelSize: (Int, Int)
  public let strides: (Int, Int)
  public let padding: Padding
  public let depthMultiplier: Int
  public let activation: Activation
  public let useBias: Bool
  public let depthwiseInitializer: Initializer
  public let pointwiseInitializer: Initializer
  public let biasInitializer: Initializer
  public let depthwiseRegularizer: Regularizer?
  public let pointwiseRegularizer: Regularizer?
  public let biasRegularizer: Regularizer?
  var window: Window2D?

  public init(
    _ filters: Int, kernelSize: [Int], strides: [Int] = [1, 1], padding: Padding = .valid, depthMultiplier: Int = 1,
    activation: Activation = .linear, useBias: Bool = true, depthwiseInitializer: Initializer = .glorotUniform,
    pointwiseInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
    depthwiseRegularizer: Regularizer? = nil, pointwiseRegularizer: Regularizer? = nil,
    biasRegularizer: Regularizer? = nil, name: String? = nil
  ) throws {
    let context = "SeparableConv2D '\(name ?? "separable_conv2d")'"
    guard filters > 0, depthMultiplier > 0 else {
      throw DLPError.config(
        "\(context): expected positive filters and depth_multiplier. Received: filters=\(filters), depth_multiplier=\(depthMultiplier)"
      )
    }
    self.kernelSize = try positivePair(
      kernelSize.count == 1 ? kernelSize + kernelSize : kernelSize, "kernel_size", context)
    self.strides = try positivePair(strides.count == 1 ? strides + strides : strides, "strides", context)
    self.filters = filters
    self.padding = padding
    self.depthMultiplier = depthMultiplier
    self.activation = activation
    self.useBias = useBias
    self.depthwiseInitializer = depthwiseInitializer
    self.pointwiseInitializer = pointwiseInitializer
    self.biasInitializer = biasInitializer
    self.depthwiseRegularizer = depthwiseRegularizer
    self.pointwiseRegularizer = pointwiseRegularizer
    self.biasRegularizer = biasRegularizer
    super.init(name: name, defaultPrefix: "separable_conv2d")
  }

  public override var className: String { "SeparableConv2D" }

  func geometry(_ shapes: [[Int]]) throws -> Window2D {
    try requireSingleInput(shapes)
    return try Window2D(
      input: shapes[0], kernel: kernelSize, strides: strides, padding: padding, context: "SeparableConv2D '\(name)'")
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    let g = try geometry(inputShapes)
    return [g.outH, g.outW, filters]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let g = try geometry(inputShapes)
    window = g
    addWeight(
      "depthwise_kernel", shape: [kernelSize.0, kernelSize.1, g.channels, depthMultiplier],
      initializer: depthwiseInitializer, regularizer: depthwiseRegularizer)
    addWeight(
      "pointwise_kernel", shape: [1, 1, g.channels * depthMultiplier, filters], initializer: pointwiseInitializer,
      regularizer: pointwiseRegularizer)
    if useBias { addWeight("bias", shape: [filters], initializer: biasInitializer, regularizer: biasRegularizer) }
  }

  /// The im2col matrix, the depthwise output and its gradient.
  public override func scratchWidths() -> [Int] {
    guard let g = window else { return [] }
    let depth = g.positions * g.channels * depthMultiplier
    return [g.positions * g.patchWidth, depth, depth]
  }

  public override func forward(_ p: ForwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let (cin, dm) = (g.channels, depthMultiplier)
    let depth = cin * dm
    let (cols, d) = (p.scratch[0], p.scratch[1])
    Im2Col.im2col(p.inputs[0], batch: p.batch, g, into: cols)
    let kernel = UnsafePointer(weight(0))
    let offsets = g.kernelH * g.kernelW
    Parallel.forEach(rows, minimumPerChunk: 64) { _, range in
      for r in range {
        let row = cols + r * g.patchWidth
        let out = d + r * depth
        out.update(repeating: 0, count: depth)
        for o in 0..<offsets {
          let x = row + o * cin
          let w = kernel + o * depth
          for c in 0..<cin {
            for m in 0..<dm { out[c * dm + m] += x[c] * w[c * dm + m] }
          }
        }
      }
    }
    let y = p.output
    // y = d P  (rows, filters)
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: filters, k: depth, a: d, lda: depth, b: weight(1), ldb: filters,
      c: y, ldc: filters)
    let relu = activation == .relu && !p.deferActivation
    if useBias {
      Elementwise.addBias(y, rows: rows, width: filters, bias: weight(2), relu: relu)
    } else if relu {
      Elementwise.reluForward(y, count: rows * filters)
    }
    if !relu && !p.deferActivation { activation.apply(y, rows: rows, width: filters) }
  }

  public override func backward(_ p: BackwardPass) {
    let g = window!
    let rows = p.batch * g.positions
    let (cin, dm, f) = (g.channels, depthMultiplier, filters)
    let depth = cin * dm
    let dz = p.outputGrad
    let biasGrad = p.computeWeightGrads && useBias ? weightGrad(2) : nil
    if activation == .relu && !p.deferActivation {
      Elementwise.reluBackward(
        output: p.output, grad: dz, rows: rows, width: f, columnSums: biasGrad, accumulate: p.accumulateWeightGrads)
    } else {
      if !p.deferActivation { activation.backward(output: p.output, grad: dz, rows: rows, width: f) }
      if let db = biasGrad {
        Elementwise.columnSums(dz, rows: rows, width: f, into: db, accumulate: p.accumulateWeightGrads)
      }
    }
    let (cols, d, dd) = (p.scratch[0], p.scratch[1], p.scratch[2])
    if p.computeWeightGrads {
      // dP = d^T dz  (in * dm, filters)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: depth, n: f, k: rows, a: d, lda: depth, b: dz, ldb: f,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(1), ldc: f)
    }
    // dd = dz P^T  (rows, in * dm)
    BLAS.gemm(
      transposeA: false, transposeB: true, m: rows, n: depth, k: f, a: dz, lda: f, b: weight(1), ldb: f, c: dd,
      ldc: depth)
    let offsets = g.kernelH * g.kernelW
    if p.computeWeightGrads {
      // dD[o, c, m] = sum over rows of cols[r, o * in + c] * dd[r, c * dm + m], in Double per
      // (o, c, m) so the sum does not depend on how rows are split.
      let dD = weightGrad(0)
      let accumulate = p.accumulateWeightGrads
      Parallel.forEach(offsets) { _, range in
        for o in range {
          for c in 0..<cin {
            for m in 0..<dm {
              var s: Double = 0
              for r in 0..<rows { s += Double(cols[r * g.patchWidth + o * cin + c] * dd[r * depth + c * dm + m]) }
              let k = o * depth + c * dm + m
              dD[k] = accumulate ? dD[k] + Float(s) : Float(s)
            }
          }
        }
      }
    }
    guard let dx = p.inputGrads[0] else { return }
    // dcols[r, o * in + c] = sum over m of dd[r, c * dm + m] * D[o, c, m], over the im2col matrix.
    let kernel = UnsafePointer(weight(0))
    Parallel.forEach(rows, minimumPerChunk: 64) { _, range in
      for r in range {
        let row = cols + r * g.patchWidth
        let grad = dd + r * depth
        for o in 0..<offsets {
          let w = kernel + o * depth
          for c in 0..<cin {
            var s: Float = 0
            for m in 0..<dm { s += grad[c * dm + m] * w[c * dm + m] }
            row[o * cin + c] = s
          }
        }
      }
    }
    Im2Col.col2im(cols, batch: p.batch, g, into: dx)
  }

  public override func config() -> [String: JSONValue] {
    [
      "filters": JSONValue(filters), "depth_multiplier": JSONValue(depthMultiplier),
      "kernel_size": [JSONValue(kernelSize.0), JSONValue(kernelSize.1)],
      "strides": [JSONValue(strides.0), JSONValue(strides.1)], "padding": .string(padding.rawValue),
      "data_format": "channels_last", "dilation_rate": [1, 1], "activation": JSONValue(activation.rawValue),
      "use_bias": .bool(useBias),
      "depthwise_initializer": KerasObjects.initializer(depthwiseInitializer),
      "pointwise_initializer": KerasObjects.initializer(pointwiseInitializer),
      "bias_initializer": KerasObjects.initializer(biasInitializer),
      "depthwise_regularizer": KerasObjects.regularizer(depthwiseRegularizer),
      "pointwise_regularizer": KerasObjects.regularizer(pointwiseRegularizer),
      "bias_regularizer": KerasObjects.regularizer(biasRegularizer),
      "activity_regularizer": nil, "depthwise_constraint": nil, "pointwise_constraint": nil, "bias_constraint": nil,
    ]
  }
}

extension SeparableConv2D {
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    try c.requireUnitDilationAndNoConstraints(extraKeys: ["depthwise_constraint", "pointwise_constraint"])
    try self.init(
      c.int("filters"), kernelSize: c.ints("kernel_size", count: 2),
      strides: c.ints("strides", count: 2, default: [1, 1]),
      padding: c.padding(), depthMultiplier: c.optionalInt("depth_multiplier") ?? 1,
      activation: c.activation("activation"), useBias: c.bool("use_bias", default: true),
      depthwiseInitializer: c.initializer("depthwise_initializer", default: .glorotUniform),
      pointwiseInitializer: c.initializer("pointwise_initializer", default: .glorotUniform),
      biasInitializer: c.initializer("bias_initializer", default: .zeros),
      depthwiseRegularizer: c.regularizer("depthwise_regularizer"),
      pointwiseRegularizer: c.regularizer("pointwise_regularizer"), biasRegularizer: c.regularizer("bias_regularizer"),
      name: c.name)
  }
}
