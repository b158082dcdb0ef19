import CBLAS

/// Thin wrappers over OpenBLAS: row-major sgemm on raw buffers, and the engine's thread settings.
public enum BLAS {
  /// C[m x n] = alpha * op(A) * op(B) + beta * C, all row-major, with op(X) = X or X^T.
  /// `lda`, `ldb`, `ldc` are the row strides of the stored matrices.
  @inline(__always)
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    if k == 0 {
      // BLAS leaves C * beta; make the empty product explicit.
      for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
      return
    }
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// Sets the number of threads OpenBLAS uses in this process (1...cores).
  public static func setThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
  }

  public static var threads: Int { Int(openblas_get_num_threads()) }

  /// Turns on flush-to-zero for this thread and restarts OpenBLAS's pool so that its threads,
  /// created when the library loaded, inherit the setting. Call once at start-up.
  public static func enableFlushToZero(threads n: Int? = nil) {
    let count = n ?? threads
    dlp_enable_flush_to_zero()
    _ = blas_thread_shutdown_()
    setThreads(count)
  }
}

extension Tensor {
  /// Matrix product of rank-2 tensors through sgemm, with free transposes.
  public static func matmul(
    _ a: Tensor, _ b: Tensor, transposeA: Bool = false, transposeB: Bool = false
  ) throws -> Tensor {
    guard a.rank == 2, b.rank == 2 else {
      throw TensorError.invalidShape("matmul needs rank-2 tensors, got \(a.shape) and \(b.shape)")
    }
    let (m, ka) = transposeA ? (a.shape[1], a.shape[0]) : (a.shape[0], a.shape[1])
    let (kb, n) = transposeB ? (b.shape[1], b.shape[0]) : (b.shape[0], b.shape[1])
    guard ka == kb else {
      throw TensorError.shapeMismatch(
        "matmul of \(a.shape)\(transposeA ? "^T" : "") and \(b.shape)\(transposeB ? "^T" : "")")
    }
    var out = [Float](repeating: 0, count: m * n)
    a.scalars.withUnsafeBufferPointer { ap in
      b.scalars.withUnsafeBufferPointer { bp in
        out.withUnsafeMutableBufferPointer { cp in
          BLAS.gemm(
            transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: ka,
            a: ap.baseAddress!, lda: a.shape[1], b: bp.baseAddress!, ldb: b.shape[1],
            c: cp.baseAddress!, ldc: n)
        }
      }
    }
    return Tensor(uncheckedShape: [m, n], scalars: out)
  }
}
