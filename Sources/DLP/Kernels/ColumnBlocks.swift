import DLPTensor

/// Kernels over a block of columns of a row-major matrix: the epilogue of a Dense product
/// (bias, ReLU) and its backward (ReLU's mask, the bias gradient). Splitting by columns keeps
/// every column's sum on one thread, in row order, so it is the same for any thread count.
extension Elementwise {
  /// Calls `body(columns)` for blocks of 0..<width (multiples of 8 wide) across the thread team,
  /// or once for all columns when the matrix is small.
  static func forColumnBlocks(width: Int, rows: Int, _ body: (Range<Int>) -> Void) {
    let parts = rows * width < 1 << 14 ? 1 : Swift.max(1, Swift.min(BLAS.threads, width / 64))
    guard parts > 1 else {
      body(0..<width)
      return
    }
    ThreadTeam.shared.run(parts: parts) { part in
      let lo = part == 0 ? 0 : (part * width / parts) / 8 * 8
      let hi = part == parts - 1 ? width : ((part + 1) * width / parts) / 8 * 8
      body(lo..<hi)
    }
  }

  /// y[r, j] += bias[j] (when given), then ReLU when `relu`, over `rows` x `columns` of a matrix
  /// with rows of `width`.
  static func addBias(
    _ y: UnsafeMutablePointer<Float>, rows: Range<Int>, columns: Range<Int>, width: Int,
    bias: UnsafePointer<Float>?, relu: Bool
  ) {
    let blocks = columns.count / 8
    let tail = columns.lowerBound + blocks * 8
    for r in rows {
      let row = y + r * width
      for b in 0..<blocks {
        let j = columns.lowerBound + b * 8
        var v = load8(row + j)
        if let bias { v += load8(bias + j) }
        if relu { v.replace(with: 0, where: v .< 0) }
        store8(v, row + j)
      }
      for j in tail..<columns.upperBound {
        var v = row[j]
        if let bias { v += bias[j] }
        row[j] = relu ? Swift.max(v, 0) : v
      }
    }
  }

  /// grad = 0 where output <= 0 (ReLU's derivative from its output, when `output` is given),
  /// then the column sums of grad added into `columnSums` (or written, when `accumulate` is
  /// false), over `columns` of `rows` rows of `width`.
  static func maskAndSumColumns(
    grad: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>?, rows: Int, columns: Range<Int>, width: Int,
    columnSums: UnsafeMutablePointer<Float>?, accumulate: Bool
  ) {
    if let s = columnSums, !accumulate { (s + columns.lowerBound).update(repeating: 0, count: columns.count) }
    let blocks = columns.count / 8
    let tail = columns.lowerBound + blocks * 8
    for r in 0..<rows {
      let gr = grad + r * width
      let yr = output.map { $0 + r * width }
      for b in 0..<blocks {
        let j = columns.lowerBound + b * 8
        var g = load8(gr + j)
        if let yr {
          g.replace(with: 0, where: load8(yr + j) .<= 0)
          store8(g, gr + j)
        }
        if let s = columnSums { store8(load8(s + j) + g, s + j) }
      }
      for j in tail..<columns.upperBound {
        var g = gr[j]
        if let yr, yr[j] <= 0 {
          g = 0
          gr[j] = 0
        }
        if let s = columnSums { s[j] += g }
      }
    }
  }
}
