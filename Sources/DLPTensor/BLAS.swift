import CBLAS

/// Thin wrappers over OpenBLAS: row-major sgemm on raw buffers, and the engine's thread settings.
///
/// OpenBLAS runs single-threaded; `gemm` splits a product across `ThreadTeam.shared` by blocks of
/// output columns or rows (never K), each block one single-threaded sgemm, so every element of C
/// is summed in the same order whatever the number of threads.
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
    gemm(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
      b: b, ldb: ldb, beta: beta, c: c, ldc: ldc
    ) { _, _ in }
  }

  /// `gemm`, then `epilogue(rows, columns)` on each block of C by the thread that computed it,
  /// while the block is still in its cache (bias and activation fused into the product). The
  /// blocks cover C exactly once.
  public static func gemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int,
    epilogue: (_ rows: Range<Int>, _ columns: Range<Int>) -> Void
  ) {
    guard m > 0, n > 0 else { return }
    let team = ThreadTeam.shared
    // Split the dimension whose split duplicates less packing: a column split makes each
    // thread pack all of op(A) (m x k), a row split all of op(B) (k x n).
    let byColumns = m <= n
    let extent = byColumns ? n : m
    let parts =
      m * n * Swift.max(k, 1) < splitWork ? 1 : Swift.max(1, Swift.min(team.size, extent / blockAlignment))
    team.run(parts: parts) { part in
      let lo = bound(part, of: parts, extent: extent)
      let hi = bound(part + 1, of: parts, extent: extent)
      guard lo < hi else { return }
      if byColumns {
        // Columns lo..<hi of op(B) and C.
        single(
          transposeA: transposeA, transposeB: transposeB, m: m, n: hi - lo, k: k, alpha: alpha, a: a, lda: lda,
          b: b + (transposeB ? lo * ldb : lo), ldb: ldb, beta: beta, c: c + lo, ldc: ldc)
        epilogue(0..<m, lo..<hi)
      } else {
        // Rows lo..<hi of op(A) and C.
        single(
          transposeA: transposeA, transposeB: transposeB, m: hi - lo, n: n, k: k, alpha: alpha,
          a: a + (transposeA ? lo : lo * lda), lda: lda, b: b, ldb: ldb, beta: beta, c: c + lo * ldc, ldc: ldc)
        epilogue(lo..<hi, 0..<n)
      }
    }
  }

  /// `gemm` on the calling thread only: for loops that already split their work across the
  /// team (a recurrent layer runs each block of batch rows through every time step).
  @inline(__always)
  public static func gemmSerial(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    guard m > 0, n > 0 else { return }
    single(
      transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha, a: a, lda: lda,
      b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
  }

  /// Products smaller than this many multiply-adds stay on one thread (a region costs a few
  /// microseconds).
  static let splitWork = 1 << 18
  /// Blocks start at multiples of this many rows or columns (OpenBLAS's AVX-512 unroll).
  static let blockAlignment = 16

  /// Start of block `part` of `parts` over 0..<extent, aligned to `blockAlignment`.
  static func bound(_ part: Int, of parts: Int, extent: Int) -> Int {
    if part >= parts { return extent }
    let raw = part * extent / parts
    return Swift.min(extent, (raw + blockAlignment / 2) / blockAlignment * blockAlignment)
  }

  /// One single-threaded sgemm.
  @inline(__always)
  static func single(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    if k == 0 {
      // BLAS leaves C * beta; make the empty product explicit.
      for i in 0..<m { for j in 0..<n { c[i * ldc + j] *= beta } }
      return
    }
    cblas_sgemm(
      CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
      Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  /// Sets the number of threads this process computes on (1...cores): the size of
  /// `ThreadTeam.shared`; OpenBLAS itself stays at one.
  public static func setThreads(_ n: Int) {
    ThreadTeam.resize(n)
  }

  public static var threads: Int { ThreadTeam.shared.size }

  /// Turns on flush-to-zero for this thread, stops OpenBLAS's pool (created when the library
  /// loaded; DLP's team replaces it) and starts the team's workers anew so they inherit the
  /// setting. Call once at start-up.
  public static func enableFlushToZero(threads n: Int? = nil) {
    let count = n ?? threads
    dlp_enable_flush_to_zero()
    _ = blas_thread_shutdown_()
    ThreadTeam.resize(count, restart: true)
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
