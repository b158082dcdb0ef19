/// Per-channel sums over the rows of a channels-last batch (`rows` rows of `channels`), in
/// Double, for BatchNormalization. Rows are summed in fixed blocks whose partial sums are
/// combined in block order, so the result does not depend on how many threads ran.
enum ChannelStatistics {
  static let blockRows = 64

  /// sums[j] = sum of (x - shift[j]), sums[C + j] = sum of (x - shift[j])^2, per channel j.
  static func shiftedSums(
    _ x: UnsafePointer<Float>, rows: Int, channels c: Int, shift: UnsafePointer<Float>,
    into sums: UnsafeMutablePointer<Double>
  ) {
    blocked(rows: rows, width: 2 * c, into: sums) { range, acc in
      for r in range {
        let xr = x + r * c
        for j in 0..<c {
          let d = Double(xr[j] - shift[j])
          acc[j] += d
          acc[c + j] += d * d
        }
      }
    }
  }

  /// sums[j] = sum of dy, sums[C + j] = sum of dy * (x - mean[j]) * invStd[j], per channel j.
  static func gradientSums(
    _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, rows: Int, channels c: Int,
    mean: UnsafePointer<Float>, invStd: UnsafePointer<Float>, into sums: UnsafeMutablePointer<Double>
  ) {
    blocked(rows: rows, width: 2 * c, into: sums) { range, acc in
      for r in range {
        let xr = x + r * c
        let g = dy + r * c
        for j in 0..<c {
          acc[j] += Double(g[j])
          acc[c + j] += Double(g[j]) * Double((xr[j] - mean[j]) * invStd[j])
        }
      }
    }
  }

  /// Runs `body` over blocks of `blockRows` rows (in parallel), each into its own zeroed
  /// `width` accumulators, then adds the blocks in order into `sums` (overwritten).
  static func blocked(
    rows: Int, width: Int, into sums: UnsafeMutablePointer<Double>,
    _ body: (Range<Int>, UnsafeMutablePointer<Double>) -> Void
  ) {
    let blocks = (rows + blockRows - 1) / blockRows
    sums.update(repeating: 0, count: width)
    guard blocks > 0 else { return }
    withUnsafeTemporaryAllocation(of: Double.self, capacity: blocks * width) { partial in
      let base = UncheckedSendable(partial.baseAddress!)
      Parallel.forEach(blocks, minimumPerChunk: Swift.max(1, 256 / blockRows)) { _, range in
        for b in range {
          let acc = base.value + b * width
          acc.update(repeating: 0, count: width)
          body((b * blockRows)..<Swift.min(rows, (b + 1) * blockRows), acc)
        }
      }
      for b in 0..<blocks {
        let acc = partial.baseAddress! + b * width
        for j in 0..<width { sums[j] += acc[j] }
      }
    }
  }
}
