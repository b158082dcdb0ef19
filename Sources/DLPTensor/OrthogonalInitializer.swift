extension Initializer {
  /// Keras's Orthogonal on a weight of `shape`: a (max(rows, cols), min(rows, cols)) matrix of
  /// standard normal draws, rows = the product of the leading axes and cols = the last; Q of
  /// its QR decomposition with each column's sign set so that R's diagonal is positive
  /// (`q *= sign(diag(r))`); transposed when rows < cols; times `gain`.
  ///
  /// Modified Gram-Schmidt in double precision gives that Q directly (its R has a positive
  /// diagonal by construction; the thin QR with that property is unique). The normal draws come
  /// from DLP's stream, not JAX's, as for the other normal initialisers.
  static func orthogonal(
    _ buffer: UnsafeMutableBufferPointer<Float>, shape: [Int], gain: Float,
    rng: inout SeededGenerator
  ) {
    guard shape.count >= 2, let cols = shape.last, cols > 0, buffer.count > 0 else {
      // Keras refuses rank < 2; a vector gets normal draws rather than a trap.
      for i in buffer.indices { buffer[i] = rng.nextNormal() * gain }
      return
    }
    let rows = buffer.count / cols
    let (m, n) = (Swift.max(rows, cols), Swift.min(rows, cols))
    // a (m, n), column j at a[j * m ..< (j + 1) * m] (columns contiguous for the projections);
    // drawn in C order of the (m, n) matrix.
    var a = [Double](repeating: 0, count: m * n)
    for i in 0..<m { for j in 0..<n { a[j * m + i] = Double(rng.nextNormal()) } }
    a.withUnsafeMutableBufferPointer { q in
      for j in 0..<n {
        let qj = q.baseAddress! + j * m
        for k in 0..<j {
          let qk = q.baseAddress! + k * m
          var dot = 0.0
          for i in 0..<m { dot += qk[i] * qj[i] }
          for i in 0..<m { qj[i] -= dot * qk[i] }
        }
        var norm = 0.0
        for i in 0..<m { norm += qj[i] * qj[i] }
        norm = norm.squareRoot()
        // A zero column (probability 0) stays zero rather than dividing by zero.
        let inv = norm > 0 ? 1 / norm : 0
        for i in 0..<m { qj[i] *= inv }
      }
    }
    // Q is (m, n); the weight is Q (rows >= cols) or Q^T (rows < cols), row-major (rows, cols).
    for r in 0..<rows {
      for c in 0..<cols {
        let v = rows >= cols ? a[c * m + r] : a[r * m + c]
        buffer[r * cols + c] = Float(v) * gain
      }
    }
  }
}
