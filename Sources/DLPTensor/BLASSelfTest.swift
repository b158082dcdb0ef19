import CBLAS

/// Checks sgemm against a float64 reference before DLP trusts kernels wider than the ones a
/// machine (its `OPENBLAS_CORETYPE`) or OpenBLAS chose: some OpenBLAS releases compute wrong
/// results with some kernels on some processors, which is why machines pin a family.
///
/// Every transpose case the engine uses (NN forward, TN weight gradients, NT input gradients;
/// TT, which `Tensor.matmul` allows) runs on odd shapes (edges of every kernel tile), on the
/// MLP's training shapes (several of OpenBLAS's blocks along each axis), with padded leading
/// dimensions, and with beta = 1 as gradient accumulation uses it. Each element must be within
/// the rounding bound of a float32 dot product, (k + 2) u (|alpha| sum|a||b| + |beta||c|) with
/// u = 2^-24, and the padding around C must stay untouched. It takes about 0.1 s, once, in the
/// process that re-executed itself with the wider kernels.
public enum BLASSelfTest {
  /// A row-major sgemm: C = alpha op(A) op(B) + beta C.
  public typealias Gemm =
    @Sendable (
      _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float, _ a: UnsafePointer<Float>,
      _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int, _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
    ) -> Void

  /// OpenBLAS's, called directly (one thread, no DLP splitting).
  public static let openBLAS: Gemm = { ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc in
    cblas_sgemm(
      CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
      alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
  }

  struct Case {
    var transA: Bool, transB: Bool, m: Int, n: Int, k: Int
    var alpha: Float = 1, beta: Float = 0

    var name: String { "\(transA ? "T" : "N")\(transB ? "T" : "N") \(m)x\(n)x\(k)" }
  }

  static let cases: [Case] = {
    var out: [Case] = []
    for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
      out.append(Case(transA: ta, transB: tb, m: 7, n: 13, k: 5))
      out.append(Case(transA: ta, transB: tb, m: 33, n: 17, k: 67, alpha: 0.5, beta: 1))
    }
    // The MLP's products, batch 128: forward, weight gradient (accumulated), input gradient.
    out.append(Case(transA: false, transB: false, m: 128, n: 512, k: 784))
    out.append(Case(transA: true, transB: false, m: 784, n: 512, k: 128, beta: 1))
    out.append(Case(transA: false, transB: true, m: 128, n: 784, k: 512))
    out.append(Case(transA: true, transB: true, m: 61, n: 130, k: 257))
    return out
  }()

  /// Runs every case through `gemm`; nil when all pass, else what failed first.
  public static func run(_ gemm: Gemm = openBLAS) -> String? {
    var seed: UInt32 = 0x9E37_79B9
    func next() -> Float {
      seed = seed &* 1_664_525 &+ 1_013_904_223
      return Float(Int32(bitPattern: seed) >> 8) / Float(1 << 23)  // in [-1, 1), 24 bits
    }
    for t in cases {
      // Stored shapes (row-major) and padded leading dimensions.
      let (aRows, aCols) = t.transA ? (t.k, t.m) : (t.m, t.k)
      let (bRows, bCols) = t.transB ? (t.n, t.k) : (t.k, t.n)
      let (lda, ldb, ldc) = (aCols + 1, bCols + 2, t.n + 3)
      let a = (0..<(aRows * lda)).map { _ in next() }
      let b = (0..<(bRows * ldb)).map { _ in next() }
      let c0 = (0..<(t.m * ldc)).map { _ in next() }
      var c = c0
      a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            gemm(
              t.transA, t.transB, t.m, t.n, t.k, t.alpha, ap.baseAddress!, lda, bp.baseAddress!, ldb, t.beta,
              cp.baseAddress!, ldc)
          }
        }
      }
      if let failure = check(t, a: a, lda: lda, b: b, ldb: ldb, c0: c0, c: c, ldc: ldc) { return failure }
    }
    return nil
  }

  /// Compares `c` with the float64 product, element by element.
  static func check(
    _ t: Case, a: [Float], lda: Int, b: [Float], ldb: Int, c0: [Float], c: [Float], ldc: Int
  ) -> String? {
    // op(A) as m rows of k, op(B)^T as n rows of k, in Double: contiguous dot products.
    var opA = [Double](repeating: 0, count: t.m * t.k)
    var opBT = [Double](repeating: 0, count: t.n * t.k)
    for i in 0..<t.m { for p in 0..<t.k { opA[i * t.k + p] = Double(t.transA ? a[p * lda + i] : a[i * lda + p]) } }
    for j in 0..<t.n { for p in 0..<t.k { opBT[j * t.k + p] = Double(t.transB ? b[j * ldb + p] : b[p * ldb + j]) } }
    let u = Double(Float.ulpOfOne) / 2
    let gamma = Double(t.k + 2) * u
    return opA.withUnsafeBufferPointer { ap in
      opBT.withUnsafeBufferPointer { bp -> String? in
        // A big product's float64 reference costs ~50 ms: check every 8th row and the last
        // rows (the edge tiles), which still covers every column block and every kernel path.
        let rows =
          t.m * t.n * t.k <= 1 << 20
          ? Array(0..<t.m) : Array(stride(from: 0, to: t.m - 8, by: 8)) + Array((t.m - 8)..<t.m)
        for i in rows {
          for j in 0..<t.n {
            var dot = 0.0
            var mag = 0.0
            let ar = ap.baseAddress! + i * t.k
            let br = bp.baseAddress! + j * t.k
            for p in 0..<t.k {
              dot += ar[p] * br[p]
              mag += abs(ar[p] * br[p])
            }
            let old = Double(c0[i * ldc + j])
            let expected = Double(t.alpha) * dot + Double(t.beta) * old
            let bound = gamma * (abs(Double(t.alpha)) * mag + abs(Double(t.beta) * old)) + 1e-30
            let got = Double(c[i * ldc + j])
            guard abs(got - expected) <= bound else {
              return "\(t.name): C[\(i), \(j)] = \(got), the float64 product is \(expected) (bound \(bound))"
            }
          }
          for j in t.n..<ldc where c[i * ldc + j].bitPattern != c0[i * ldc + j].bitPattern {
            return "\(t.name): wrote C[\(i), \(j)], outside the \(t.n) columns of C"
          }
        }
        return nil
      }
    }
  }
}
