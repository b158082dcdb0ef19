/// A stride-1 1-D convolution as small sgemms per kernel tap, without an im2col matrix:
/// y_n = sum_k X_n[k d ..< k d + outSteps] W_k for sample n (X_n: its padded inputs, a
/// (paddedSteps, channels) matrix; W_k: the (channels, filters) slice of the kernel; d: the
/// dilation), a sample per call, written straight into y. Each output row is summed in tap
/// order on one thread, whatever the thread count.
///
/// The book's Conv1D(32, 7) over (200, 32) embeddings is ~2.5x faster this way than through a
/// 24,832 x 224 im2col matrix, which OpenBLAS packs again (three passes over 22 MB a step);
/// here every product stays in L1 and goes through OpenBLAS's small-matrix kernels, which pack
/// nothing. Backward: dX_n[k d ...] += dY_n W_k^T (through W_k^T laid out once: the small NN
/// kernel outruns the NT one), and dW_k = X[k d ...]^T dY over the batch as one long matrix
/// (dY padded with zero rows to the inputs' layout) in L2-sized row blocks, the taps' columns
/// split evenly across threads.
enum ConvTaps1D {
  static let blockRows = 512

  /// Floats per sample of the `full` scratch: the output gradient in the padded layout.
  static func fullWidth(_ g: Window1D, filters f: Int) -> Int { g.paddedSteps * f }
  static func lead(_ g: Window1D) -> Int { (g.kernel - 1) * g.dilation }

  /// y (batch, outSteps, filters) = the convolution of x (batch, steps, channels), a sample
  /// at a time: y_n = sum_k X_n[k d ..< k d + outSteps] W_k, straight into y. `padded` (batch *
  /// paddedSteps * channels) holds the padded inputs when the window pads.
  static func forward(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window1D, kernel w: UnsafePointer<Float>,
    filters f: Int,
    padded: UnsafeMutablePointer<Float>, into y: UnsafeMutablePointer<Float>
  ) {
    let (steps, c, d, out) = (g.paddedSteps, g.channels, g.dilation, g.outSteps)
    let src = pad(x, batch: batch, g, into: padded)
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        for k in 0..<g.kernel {
          BLAS.gemmSerial(
            transposeA: false, transposeB: false, m: out, n: f, k: c,
            a: src + (n * steps + k * d) * c, lda: c,
            b: w + k * c * f, ldb: f, beta: k == 0 ? 0 : 1, c: y + n * out * f, ldc: f)
        }
      }
    }
  }

  /// dW (+)= the kernel's gradient and dx = the input's, from dz (batch, outSteps, filters).
  /// `padded` still holds the forward's padded inputs; it is overwritten by dx's padded form.
  static func backward(
    _ dz: UnsafePointer<Float>, x: UnsafePointer<Float>, batch: Int, _ g: Window1D,
    kernel w: UnsafePointer<Float>,
    filters f: Int, kernelGrad dW: UnsafeMutablePointer<Float>?, accumulate: Bool,
    inputGrad dx: UnsafeMutablePointer<Float>?,
    padded: UnsafeMutablePointer<Float>, full: UnsafeMutablePointer<Float>,
    transposed: UnsafeMutablePointer<Float>
  ) {
    let (steps, c, d) = (g.paddedSteps, g.channels, g.dilation)
    let isPadded = steps != g.steps
    if let dW {
      // dY in the padded layout: zero rows after each sample's outputs.
      let dY = full
      let out = g.outSteps * f
      Parallel.forEach(batch) { _, samples in
        for n in samples {
          (dY + n * steps * f).update(from: dz + n * out, count: out)
          (dY + n * steps * f + out).update(repeating: 0, count: (steps - g.outSteps) * f)
        }
      }
      let src = isPadded ? UnsafePointer(padded) : x
      let rows = batch * steps - lead(g)
      // dW_k = X[k d ..< k d + rows]^T dY  (channels, filters), its row blocks in order (a
      // fixed summation order). The threads split the (tap, filter) columns of all taps evenly:
      // whole taps would give one thread 4 of the book's 7 and the other 3.
      let halves = f >= 16 ? 2 : 1
      Parallel.forEach(g.kernel * halves) { _, pieces in
        var piece = pieces.lowerBound
        while piece < pieces.upperBound {
          // This tap's pieces in the chunk, as one column range.
          let k = piece / halves
          let last = Swift.min(pieces.upperBound, (k + 1) * halves)
          let lo = (piece % halves) * f / halves
          let hi = ((last - 1) % halves + 1) * f / halves
          var r0 = 0
          while r0 < rows {
            let m = Swift.min(blockRows, rows - r0)
            BLAS.gemmSerial(
              transposeA: true, transposeB: false, m: c, n: hi - lo, k: m,
              a: src + (r0 + k * d) * c, lda: c,
              b: dY + r0 * f + lo, ldb: f, beta: r0 == 0 && !accumulate ? 0 : 1,
              c: dW + k * c * f + lo, ldc: f)
            r0 += m
          }
          piece = last
        }
      }
    }
    guard let dx else { return }
    // dX_n[k d ..< k d + outSteps] += dY_n W_k^T, a sample at a time (rows no tap reaches are
    // 0). W_k^T is laid out once (`transposed`): OpenBLAS's small NN kernel outruns its NT one.
    let dst = isPadded ? padded : dx
    let outSteps = g.outSteps
    for k in 0..<g.kernel {
      let (wk, tk) = (w + k * c * f, transposed + k * c * f)
      for i in 0..<c { for j in 0..<f { tk[j * c + i] = wk[i * f + j] } }
    }
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        let row = dst + n * steps * c
        (row + outSteps * c).update(repeating: 0, count: (steps - outSteps) * c)
        for k in 0..<g.kernel {
          BLAS.gemmSerial(
            transposeA: false, transposeB: false, m: outSteps, n: c, k: f, a: dz + n * outSteps * f,
            lda: f,
            b: transposed + k * c * f, ldb: c, beta: k == 0 ? 0 : 1, c: row + k * d * c, ldc: c)
        }
      }
    }
    guard isPadded else { return }
    let width = g.steps * c
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        (dx + n * width).update(from: padded + (n * steps + g.padBefore) * c, count: width)
      }
    }
  }

  /// The inputs with their padding rows (zeros), or x itself when nothing pads.
  static func pad(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window1D, into padded: UnsafeMutablePointer<Float>
  )
    -> UnsafePointer<Float>
  {
    let (steps, c) = (g.paddedSteps, g.channels)
    guard steps != g.steps else { return x }
    let after = steps - g.steps - g.padBefore
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        let row = padded + n * steps * c
        row.update(repeating: 0, count: g.padBefore * c)
        (row + g.padBefore * c).update(from: x + n * g.steps * c, count: g.steps * c)
        (row + (g.padBefore + g.steps) * c).update(repeating: 0, count: after * c)
      }
    }
    return UnsafePointer(padded)
  }
}
