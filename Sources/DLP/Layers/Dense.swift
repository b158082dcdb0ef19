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
    // y = x W  (rows, units)
    BLAS.gemm(
      transposeA: false, transposeB: false, m: rows, n: units, k: inDim,
      a: p.inputs[0], lda: inDim, b: weight(0), ldb: units, c: y, ldc: units)
    let u = units
    if useBias {
      let b = weight(1)
      // Bias and ReLU fused in one pass over the output (the common hidden-layer case).
      if activation == .relu && !p.deferActivation {
        for r in 0..<rows {
          let row = y + r * u
          for j in 0..<u { row[j] = Swift.max(row[j] + b[j], 0) }
        }
        return
      }
      for r in 0..<rows {
        let row = y + r * u
        for j in 0..<u { row[j] += b[j] }
      }
    }
    if !p.deferActivation { activation.apply(y, rows: rows, width: u) }
  }

  public override func backward(_ p: BackwardPass) {
    let rows = p.batch * rowsPerSample
    let dz = p.outputGrad
    if !p.deferActivation { activation.backward(output: p.output, grad: dz, rows: rows, width: units) }
    if p.computeWeightGrads {
      // dW = x^T dz  (inDim, units)
      BLAS.gemm(
        transposeA: true, transposeB: false, m: inDim, n: units, k: rows,
        a: p.inputs[0], lda: inDim, b: dz, ldb: units,
        beta: p.accumulateWeightGrads ? 1 : 0, c: weightGrad(0), ldc: units)
      if useBias {
        let db = weightGrad(1)
        let u = units
        if !p.accumulateWeightGrads { db.update(repeating: 0, count: u) }
        for r in 0..<rows {
          let row = dz + r * u
          for j in 0..<u { db[j] += row[j] }
        }
      }
    }
    if let dx = p.inputGrads[0] {
      // dx = dz W^T  (rows, inDim)
      BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: inDim, k: units,
        a: dz, lda: units, b: weight(0), ldb: units, c: dx, ldc: inDim)
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
