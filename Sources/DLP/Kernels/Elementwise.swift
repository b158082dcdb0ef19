/// Element-wise kernels the layers fuse around their matrix products, written with SIMD8 so
/// they run branch-free (a data-dependent branch per element mispredicts half the time after
/// ReLU), with rows split across the BLAS threads.
public enum Elementwise {
  /// y = y + bias on every row (`rows` rows of `width`), then ReLU when `relu`.
  public static func addBias(
    _ y: UnsafeMutablePointer<Float>, rows: Int, width: Int, bias: UnsafePointer<Float>, relu: Bool
  ) {
    let blocks = width / 8
    Parallel.forEach(rows, minimumPerChunk: 256) { _, range in
      for r in range {
        let row = y + r * width
        for b in 0..<blocks {
          var v = load8(row + b * 8) + load8(bias + b * 8)
          if relu { v.replace(with: 0, where: v .< 0) }
          store8(v, row + b * 8)
        }
        for j in (blocks * 8)..<width {
          row[j] = relu ? Swift.max(row[j] + bias[j], 0) : row[j] + bias[j]
        }
      }
    }
  }

  /// y = max(y, 0) over `count` values.
  public static func reluForward(_ y: UnsafeMutablePointer<Float>, count: Int) {
    Parallel.forEach(count, minimumPerChunk: 4096) { _, range in
      for i in range { y[i] = Swift.max(y[i], 0) }
    }
  }

  /// grad = grad where output > 0, else 0 (ReLU's derivative from its output), over `rows` rows
  /// of `width`; when `columnSums` is given, also adds the column sums of the new grad into it
  /// (a bias gradient), or writes them when `accumulate` is false.
  public static func reluBackward(
    output y: UnsafePointer<Float>, grad: UnsafeMutablePointer<Float>, rows: Int, width: Int,
    columnSums: UnsafeMutablePointer<Float>? = nil, accumulate: Bool = false
  ) {
    reduceRows(rows: rows, width: width, into: columnSums, accumulate: accumulate) { range, acc in
      let blocks = width / 8
      for r in range {
        let yr = y + r * width
        let gr = grad + r * width
        for b in 0..<blocks {
          var g = load8(gr + b * 8)
          g.replace(with: 0, where: load8(yr + b * 8) .<= 0)
          store8(g, gr + b * 8)
          acc[b] += g
        }
        for j in (blocks * 8)..<width {
          let v = yr[j] > 0 ? gr[j] : 0
          gr[j] = v
          acc[blocks][j - blocks * 8] += v
        }
      }
    }
  }

  /// Adds (or writes, when `accumulate` is false) the column sums of `rows` rows of `width`.
  public static func columnSums(
    _ x: UnsafePointer<Float>, rows: Int, width: Int, into out: UnsafeMutablePointer<Float>,
    accumulate: Bool
  ) {
    reduceRows(rows: rows, width: width, into: out, accumulate: accumulate) { range, acc in
      let blocks = width / 8
      for r in range {
        let xr = x + r * width
        for b in 0..<blocks { acc[b] += load8(xr + b * 8) }
        for j in (blocks * 8)..<width { acc[blocks][j - blocks * 8] += xr[j] }
      }
    }
  }

  /// Runs `body` over chunks of rows and writes (or adds) the column sums it accumulates.
  /// A conv bias gradient sums tens of thousands of terms that mostly cancel, so a plain float
  /// running sum loses several digits and the result depends on how the rows were split
  /// (1 vs 2 threads, or a batch vs its shards on workers). Each block of `blockRows` rows is
  /// summed in float by `body` (the vectorised hot loop), then added into Double accumulators;
  /// chunks are combined in chunk order (deterministic for a given thread count).
  static func reduceRows(
    rows: Int, width: Int, into out: UnsafeMutablePointer<Float>?, accumulate: Bool,
    _ body: (Range<Int>, UnsafeMutableBufferPointer<SIMD8<Float>>) -> Void
  ) {
    let slots = width / 8 + 1
    let blockRows = 32
    let chunks = Parallel.chunks(rows, minimumPerChunk: 256)
    withUnsafeTemporaryAllocation(of: SIMD8<Float>.self, capacity: chunks * slots) { block in
      withUnsafeTemporaryAllocation(of: SIMD8<Double>.self, capacity: chunks * slots) { total in
        block.initialize(repeating: .zero)
        total.initialize(repeating: .zero)
        let blockBase = UncheckedSendable(block.baseAddress!)
        let totalBase = UncheckedSendable(total.baseAddress!)
        Parallel.forEach(rows, minimumPerChunk: 256) { c, range in
          let acc = UnsafeMutableBufferPointer(start: blockBase.value + c * slots, count: slots)
          let sum = totalBase.value + c * slots
          var start = range.lowerBound
          while start < range.upperBound {
            let end = Swift.min(start + blockRows, range.upperBound)
            acc.update(repeating: .zero)
            body(start..<end, acc)
            for s in 0..<slots { sum[s] += SIMD8<Double>(acc[s]) }
            start = end
          }
        }
        guard let out else { return }
        for j in 0..<width {
          var v: Double = 0
          for c in 0..<chunks { v += total[c * slots + j / 8][j % 8] }
          out[j] = accumulate ? Float(Double(out[j]) + v) : Float(v)
        }
      }
    }
  }

  @inline(__always) static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }

  @inline(__always) static func load8(_ p: UnsafeMutablePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
  }

  @inline(__always) static func store8(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
  }
}
