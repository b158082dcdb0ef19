/// Keras's Dense: `y = activation(x W + b)` on the last axis.
/// Shapes: x (rows, inDim) where rows = batch * leading axes; W (inDim, units); b (units).
public final class Dense: Layer, ActivatedLayer {
  public let units: Int
  public let activation: Activation
  public let useBias: Bool
  public let kernelInitializer: Initializer
  public let biasInitializer: Initializer
  public let kernelRegularizer: Regularizer?
  public let biasRegularizer: Regularizer?

  public init(
    _ units: Int, activation: Activation = .linear, useBias: Bool = true,
    kernelInitializer: Initializer = .glorotUniform, biasInitializer: Initializer = .zeros,
    kernelRegularizer: Regularizer? = nil, biasRegularizer: Regularizer? = nil, name: String? = nil
  ) throws {
    guard units > 0 else {
      throw DLPError.config("Dense: expected a positive number of units. Received: units=\(units)")
    }
    self.units = units
    self.activation = activation
    self.useBias = useBias
    self.kernelInitializer = kernelInitializer
    self.biasInitializer = biasInitializer
    self.kernelRegularizer = kernelRegularizer
    self.biasRegularizer = biasRegularizer
    super.init(name: name, defaultPrefix: "dense")
  }

  public override var className: String { "Dense" }

  /// Keras passes a mask through this layer (supports_masking).
  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard let last = inputShapes[0].last, last > 0 else {
      throw DLPError.shape("Dense '\(name)' needs an input with a last axis, got \(describeShapes(inputShapes))")
    }
    return inputShapes[0].dropLast() + [units]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let inDim = inputShapes[0].last!
    addWeight("kernel", shape: [inDim, units], initializer: kernelInitializer, regularizer: kernelRegularizer)
    if useBias { addWeight("bias", shape: [units], initializer: biasInitializer, regularizer: biasRegularizer) }
  }

  var inDim: Int { inputShapes[0].last! }
  /// Rows of the matrix product per sample (leading axes of a rank > 1 input).
  var rowsPerSample: Int { inputShapes[0].dropLast().reduce(1, *) }

  public override func forward(_ p: ForwardPass) {
    let rows = p.batch * rowsPerSample
    let y = p.output
    let u = units
    let bias: UnsafePointer<Float>? = useBias ? UnsafePointer(weight(1)) : nil
    // ReLU (the common hidden layer) is fused with the bias into the product's blocks; other
    // activations run after it, over whole rows.
    let fuseReLU = activation == .relu && !p.deferActivation
    // y = x W  (rows, units), then bias (and ReLU) on each block while it is in cache.
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: u, k: inDim,
      a: p.inputs[0], lda: inDim, b: weight(0), ldb: u, c: y, ldc: u
    ) { rowRange, columns in
      guard bias != nil || fuseReLU else { return }
      Elementwise.addBias(y, rows: rowRange, columns: columns, width: u, bias: bias, relu: fuseReLU)
    }
    if !p.deferActivation && !fuseReLU { activation.apply(y, rows: rows, width: u) }
  }

  public override func backward(_ p: BackwardPass) {
    let rows = p.batch * rowsPerSample
    let dz = p.outputGrad
    let u = units
    let reluMask = activation == .relu && !p.deferActivation
    if !p.deferActivation && !reluMask { activation.backward(output: p.output, grad: dz, rows: rows, width: u) }
    let db: UnsafeMutablePointer<Float>? = p.computeWeightGrads && useBias ? weightGrad(1) : nil
    if reluMask || db != nil {
      // ReLU's mask and the bias gradient in one pass, split by columns: each column is summed
      // over the rows in row order by one thread, so the sums do not depend on the thread count.
      let output = UnsafePointer(p.output)
      let accumulate = p.accumulateWeightGrads
      Elementwise.forColumnBlocks(width: u, rows: rows) { columns in
        Elementwise.maskAndSumColumns(
          grad: dz, output: reluMask ? output : nil, rows: rows, columns: columns, width: u,
          columnSums: db, accumulate: accumulate)
      }
    }
    if p.computeWeightGrads {
      // dW = x^T dz  (inDim, units)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: inDim, n: u, k: rows,
        a: p.inputs[0], lda: inDim, b: dz, ldb: u,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(0), ldc: u)
    }
    if let dx = p.inputGrads[0] {
      // dx = dz W^T  (rows, inDim)
      BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: inDim, k: u,
        a: dz, lda: u, b: weight(0), ldb: u, c: dx, ldc: inDim)
    }
  }

  public override func config() -> [String: JSONValue] {
    [
      "units": JSONValue(units),
      "activation": JSONValue(activation.rawValue),
      "use_bias": .bool(useBias),
      "kernel_initializer": KerasObjects.initializer(kernelInitializer),
      "bias_initializer": KerasObjects.initializer(biasInitializer),
      "kernel_regularizer": KerasObjects.regularizer(kernelRegularizer),
      "bias_regularizer": KerasObjects.regularizer(biasRegularizer),
      "kernel_constraint": nil, "bias_constraint": nil, "activity_regularizer": nil,
    ]
  }
}
