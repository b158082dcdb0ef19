import DLPTensor

/// The pass over time that SimpleRNN, GRU and LSTM share:
/// - forward: the input projections of all steps as one sgemm, z (batch * steps, gates * units)
///   = x W + b; then each block of batch rows runs through every step on its own thread (a
///   (rows, units) x (units, gates * units) sgemm per step for the state, the cell's gates on
///   the rows), so steps need no synchronisation;
/// - backward: the steps in reverse on the same blocks (the state's gradient carried back
///   through one sgemm per step), then the weight gradients as one sgemm each over all steps:
///   dW = x^T dz, dR = hPrev^T dz, and dx = dz W^T.
/// Nothing is allocated: every buffer is the layer's scratch (`RecurrentRun`).
extension RecurrentLayer {
  func runForward(_ r: RecurrentRun, randomness: StepRandomness) {
    if r.dropInputs || r.dropState { drawDropoutMasks(r, randomness) }
    projectInputs(r)
    resetStates(r)
    Parallel.forEach(r.batch, minimumPerChunk: 8) { _, rows in
      for s in 0..<r.steps { stepForward(r, rows: rows, step: s) }
    }
    guard settings.returnState else { return }
    // The final states follow y in each row: [y, h(, c)].
    for b in 0..<r.batch {
      (r.y + b * r.outputWidth + sequenceOutputWidth).update(
        from: r.finals + b * 2 * units, count: stateCount * units)
    }
  }

  func runBackward(
    _ r: RecurrentRun, outputGrad dy: UnsafeMutablePointer<Float>,
    inputGrad dx: UnsafeMutablePointer<Float>?,
    weightGrads: Bool, accumulate: Bool
  ) {
    let u = units
    // The carries start from the final states' gradients (return_state), else zero.
    for b in 0..<r.batch {
      if settings.returnState {
        r.carryH(b).update(from: dy + b * r.outputWidth + sequenceOutputWidth, count: u)
      } else {
        r.carryH(b).update(repeating: 0, count: u)
      }
      if stateCount == 2 && settings.returnState {
        r.carryC(b).update(from: dy + b * r.outputWidth + sequenceOutputWidth + u, count: u)
      } else {
        r.carryC(b).update(repeating: 0, count: u)
      }
    }
    let grads = UnsafePointer(dy)
    Parallel.forEach(r.batch, minimumPerChunk: 8) { _, rows in
      for s in stride(from: r.steps - 1, through: 0, by: -1) {
        stepBackward(r, rows: rows, step: s, outputGrad: grads)
      }
    }
    if weightGrads { weightGradients(r, accumulate: accumulate) }
    if let dx { inputGradient(r, into: dx) }
  }

  // MARK: dropout masks

  /// Keras's masks: per call, `inputMaskGroups` masks over the inputs then `recurrentMaskGroups`
  /// over the state, each `jax.random.bernoulli([seed, draw], 1 - rate, (batch, width))` with
  /// the seed generator's draws counted from this call's place (`StepRandomness.counter` calls
  /// before it); kept values are 1 / (1 - rate). Row r of the global batch owns the counters
  /// r * width ..< (r + 1) * width, so a worker draws exactly its rows.
  func drawDropoutMasks(_ r: RecurrentRun, _ randomness: StepRandomness) {
    var draw = UInt64(randomness.counter) &* UInt64(drawsPerCall)
    let seed = generatorSeed
    func fill(
      rate: Float, groups: Int, width: Int, _ slot: (Int, Int) -> UnsafeMutablePointer<Float>
    ) {
      let keep = Float(1 - Double(rate))
      let kept = 1 / keep
      for g in 0..<groups {
        let key = (seed, UInt32(truncatingIfNeeded: draw))
        draw &+= 1
        for b in 0..<r.batch {
          let m = slot(b, g)
          Threefry.units(
            key: key, from: UInt64(randomness.rowOffset + b) * UInt64(width), count: width, into: m)
          for j in 0..<width { m[j] = m[j] < keep ? kept : 0 }
        }
      }
    }
    if r.dropInputs {
      fill(rate: settings.dropout, groups: r.inputMaskGroups, width: r.inDim, r.inputMask)
    }
    if r.dropState {
      fill(rate: settings.recurrentDropout, groups: r.stateMaskGroups, width: units, r.stateMask)
    }
  }

  /// maskedInput = x times row b's input mask of group `g` at every step.
  func maskInputs(_ r: RecurrentRun, group g: Int) {
    let (t, d) = (r.steps, r.inDim)
    Parallel.forEach(r.batch) { _, rows in
      for b in rows {
        let m = r.inputMask(b, g)
        for i in 0..<t {
          let src = r.x + (b * t + i) * d
          let dst = r.maskedInput + (b * t + i) * d
          for j in 0..<d { dst[j] = src[j] * m[j] }
        }
      }
    }
  }

  // MARK: products

  /// z = x W + b for every step: one sgemm (one per gate with per-gate input masks).
  func projectInputs(_ r: RecurrentRun) {
    let rows = r.batch * r.steps
    let (d, gu, u) = (r.inDim, r.gateWidth, units)
    if r.dropInputs && r.inputMaskGroups > 1 {
      for g in 0..<gates {
        maskInputs(r, group: g)
        BLAS.gemm(
          transposeA: false, transposeB: false, m: rows, n: u, k: d, a: r.maskedInput, lda: d,
          b: weight(0) + g * u, ldb: gu, c: r.z + g * u, ldc: gu)
      }
    } else {
      if r.dropInputs { maskInputs(r, group: 0) }
      BLAS.gemm(
        transposeA: false, transposeB: false, m: rows, n: gu, k: d,
        a: r.dropInputs ? UnsafePointer(r.maskedInput) : r.x, lda: d,
        b: weight(0), ldb: gu, c: r.z, ldc: gu)
    }
    // The input bias (GRU's first bias row).
    if settings.useBias {
      Elementwise.addBias(r.z, rows: rows, width: gu, bias: weight(2), relu: false)
    }
  }

  /// c (+)= a R[:, columns] for batch rows `rows` (a and c point at the first row), each gate's
  /// part with the state masked by that gate's mask when dropping states.
  func stateProduct(
    _ r: RecurrentRun, rows: Range<Int>, a: UnsafePointer<Float>, lda: Int, columns: Range<Int>,
    into c: UnsafeMutablePointer<Float>, ldc: Int, beta: Float
  ) {
    let (u, gu) = (units, r.gateWidth)
    let kernel = UnsafePointer(weight(1))
    guard r.dropState else {
      BLAS.gemmSerial(
        transposeA: false, transposeB: false, m: rows.count, n: columns.count, k: u, a: a, lda: lda,
        b: kernel + columns.lowerBound, ldb: gu, beta: beta, c: c, ldc: ldc)
      return
    }
    let r0 = rows.lowerBound
    for g in (columns.lowerBound / u)..<(columns.upperBound / u) {
      for b in rows {
        let src = a + (b - r0) * lda
        let m = r.stateMask(b, r.stateGroup(g))
        let dst = r.maskedH(b)
        for j in 0..<u { dst[j] = src[j] * m[j] }
      }
      BLAS.gemmSerial(
        transposeA: false, transposeB: false, m: rows.count, n: u, k: u, a: r.maskedH(r0),
        lda: r.rowTempWidth,
        b: kernel + g * u, ldb: gu, beta: beta, c: c + (g * u - columns.lowerBound), ldc: ldc)
    }
  }

  /// carryH[rows] += grads R[:, columns]^T (grads points at the first row's `columns`), each
  /// gate's part times its state mask when dropping states.
  func stateBackProduct(
    _ r: RecurrentRun, rows: Range<Int>, grads: UnsafePointer<Float>, ldGrads: Int,
    columns: Range<Int>,
    into dst: UnsafeMutablePointer<Float>, ldDst: Int
  ) {
    let (u, gu) = (units, r.gateWidth)
    let kernel = UnsafePointer(weight(1))
    guard r.dropState else {
      BLAS.gemmSerial(
        transposeA: false, transposeB: true, m: rows.count, n: u, k: columns.count, a: grads,
        lda: ldGrads,
        b: kernel + columns.lowerBound, ldb: gu, beta: 1, c: dst, ldc: ldDst)
      return
    }
    let r0 = rows.lowerBound
    for g in (columns.lowerBound / u)..<(columns.upperBound / u) {
      BLAS.gemmSerial(
        transposeA: false, transposeB: true, m: rows.count, n: u, k: u,
        a: grads + (g * u - columns.lowerBound),
        lda: ldGrads, b: kernel + g * u, ldb: gu, c: r.temp2(r0), ldc: r.rowTempWidth)
      for b in rows {
        let t = r.temp2(b)
        let m = r.stateMask(b, r.stateGroup(g))
        let d = dst + (b - r0) * ldDst
        for j in 0..<u { d[j] += t[j] * m[j] }
      }
    }
  }

  // MARK: gradients over all steps

  /// dW (+)= x^T dz: one sgemm over batch * steps rows (per gate with per-gate input masks).
  func inputKernelGradient(_ r: RecurrentRun, accumulate: Bool) {
    let rows = r.batch * r.steps
    let (d, gu, u) = (r.inDim, r.gateWidth, units)
    let beta: Float = accumulate ? 1 : 0
    if r.dropInputs && r.inputMaskGroups > 1 {
      for g in 0..<gates {
        maskInputs(r, group: g)
        BLAS.gemm(
          transposeA: true, transposeB: false, m: d, n: u, k: rows, a: r.maskedInput, lda: d,
          b: r.z + g * u,
          ldb: gu, beta: beta, c: weightGrad(0) + g * u, ldc: gu)
      }
    } else {
      // maskedInput still holds the forward's masked inputs.
      BLAS.gemm(
        transposeA: true, transposeB: false, m: d, n: gu, k: rows,
        a: r.dropInputs ? UnsafePointer(r.maskedInput) : r.x, lda: d,
        b: r.z, ldb: gu, beta: beta, c: weightGrad(0), ldc: gu)
    }
  }

  /// dR[:, columns] (+)= states^T grads over batch * steps rows (states: a (steps, units)
  /// buffer; grads points at the first row's `columns`), per gate with masked states when
  /// dropping states.
  func stateKernelGradient(
    _ r: RecurrentRun, columns: Range<Int>, states: UnsafePointer<Float>,
    grads: UnsafePointer<Float>, ldGrads: Int,
    accumulate: Bool
  ) {
    let rows = r.batch * r.steps
    let (u, gu) = (units, r.gateWidth)
    let beta: Float = accumulate ? 1 : 0
    guard r.dropState else {
      BLAS.gemm(
        transposeA: true, transposeB: false, m: u, n: columns.count, k: rows, a: states, lda: u,
        b: grads,
        ldb: ldGrads, beta: beta, c: weightGrad(1) + columns.lowerBound, ldc: gu)
      return
    }
    for g in (columns.lowerBound / u)..<(columns.upperBound / u) {
      Parallel.forEach(r.batch) { _, batchRows in
        for b in batchRows {
          let m = r.stateMask(b, r.stateGroup(g))
          for i in 0..<r.steps {
            let src = states + (b * r.steps + i) * u
            let dst = r.maskedState + (b * r.steps + i) * u
            for j in 0..<u { dst[j] = src[j] * m[j] }
          }
        }
      }
      BLAS.gemm(
        transposeA: true, transposeB: false, m: u, n: u, k: rows, a: r.maskedState, lda: u,
        b: grads + (g * u - columns.lowerBound), ldb: ldGrads, beta: beta, c: weightGrad(1) + g * u,
        ldc: gu)
    }
  }

  /// dx = dz W^T, times the input masks when dropping inputs.
  func inputGradient(_ r: RecurrentRun, into dx: UnsafeMutablePointer<Float>) {
    let rows = r.batch * r.steps
    let (d, gu, u, t) = (r.inDim, r.gateWidth, units, r.steps)
    let kernel = UnsafePointer(weight(0))
    guard r.dropInputs else {
      BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: d, k: gu, a: r.z, lda: gu, b: kernel,
        ldb: gu, c: dx, ldc: d)
      return
    }
    let groups = r.inputMaskGroups
    if groups == 1 {
      BLAS.gemm(
        transposeA: false, transposeB: true, m: rows, n: d, k: gu, a: r.z, lda: gu, b: kernel,
        ldb: gu, c: dx, ldc: d)
    } else {
      dx.update(repeating: 0, count: rows * d)
    }
    for g in 0..<groups {
      if groups > 1 {
        BLAS.gemm(
          transposeA: false, transposeB: true, m: rows, n: d, k: u, a: r.z + g * u, lda: gu,
          b: kernel + g * u, ldb: gu,
          c: r.maskedInput, ldc: d)
      }
      Parallel.forEach(r.batch) { _, batchRows in
        for b in batchRows {
          let m = r.inputMask(b, g)
          for i in 0..<t {
            let row = dx + (b * t + i) * d
            if groups == 1 {
              for j in 0..<d { row[j] *= m[j] }
            } else {
              let src = r.maskedInput + (b * t + i) * d
              for j in 0..<d { row[j] += src[j] * m[j] }
            }
          }
        }
      }
    }
  }
}
