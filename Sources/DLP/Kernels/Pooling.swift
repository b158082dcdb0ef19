/// Max and average pooling over channels-last 2-D windows, forward and backward, on raw
/// buffers of `batch` samples: x (batch, inH, inW, c), y (batch, outH, outW, c).
/// Padding never contributes: max ignores it (as padding with -inf does), average divides by
/// the number of input positions inside the window (what TF and Keras do for 'same').
public enum Pooling {
  // Each public entry point splits the batch across the BLAS threads; the loops over one
  // range of samples follow below.

  /// y = max over each window; `argmax` (shaped like y) gets the winning input offset within
  /// its sample, as a Float (exact below 2^24 values per sample). Ties go to the first.
  public static func maxForward(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, output y: UnsafeMutablePointer<Float>,
    argmax: UnsafeMutablePointer<Float>
  ) {
    let out = g.positions * g.channels
    Parallel.forEach(batch) { _, r in
      maxForwardSamples(
        x + r.lowerBound * g.inputWidth, batch: r.count, g, output: y + r.lowerBound * out,
        argmax: argmax + r.lowerBound * out)
    }
  }

  /// dx = dy routed to each window's argmax (summed where windows overlap). Overwrites dx.
  public static func maxBackward(
    _ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>, batch: Int, _ g: Window2D,
    into dx: UnsafeMutablePointer<Float>
  ) {
    let out = g.positions * g.channels
    Parallel.forEach(batch) { _, r in
      maxBackwardSamples(
        dy + r.lowerBound * out, argmax: argmax + r.lowerBound * out, batch: r.count, g,
        into: dx + r.lowerBound * g.inputWidth)
    }
  }

  /// y = mean over the input positions of each window.
  public static func averageForward(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, output y: UnsafeMutablePointer<Float>
  ) {
    let out = g.positions * g.channels
    Parallel.forEach(batch) { _, r in
      averageForwardSamples(
        x + r.lowerBound * g.inputWidth, batch: r.count, g, output: y + r.lowerBound * out)
    }
  }

  /// dx = each window's dy spread evenly over its input positions. Overwrites dx.
  public static func averageBackward(
    _ dy: UnsafePointer<Float>, batch: Int, _ g: Window2D, into dx: UnsafeMutablePointer<Float>
  ) {
    let out = g.positions * g.channels
    Parallel.forEach(batch) { _, r in
      averageBackwardSamples(
        dy + r.lowerBound * out, batch: r.count, g, into: dx + r.lowerBound * g.inputWidth)
    }
  }

  static func maxForwardSamples(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, output y: UnsafeMutablePointer<Float>,
    argmax: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    let lanes = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
    var out = y
    var arg = argmax
    for n in 0..<batch {
      let xs = x + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          // The window's input offsets, row by row; the first one seeds the maximum.
          let first = ((r.start + r.lo) * g.inW + col.start + col.lo) * c
          var ch = 0
          // Eight channels at a time in registers: compare-and-select, no branches.
          while ch + 8 <= c {
            var best = Elementwise.load8(xs + first + ch)
            var bestAt = SIMD8<Float>(repeating: Float(first + ch)) + lanes
            for ki in r.lo..<r.hi {
              for kj in col.lo..<col.hi {
                let offset = ((r.start + ki) * g.inW + col.start + kj) * c + ch
                let v = Elementwise.load8(xs + offset)
                let better = v .> best
                best.replace(with: v, where: better)
                bestAt.replace(with: SIMD8<Float>(repeating: Float(offset)) + lanes, where: better)
              }
            }
            Elementwise.store8(best, out + ch)
            Elementwise.store8(bestAt, arg + ch)
            ch += 8
          }
          while ch < c {
            var best = xs[first + ch]
            var bestAt = first + ch
            for ki in r.lo..<r.hi {
              for kj in col.lo..<col.hi {
                let offset = ((r.start + ki) * g.inW + col.start + kj) * c + ch
                if xs[offset] > best {
                  best = xs[offset]
                  bestAt = offset
                }
              }
            }
            out[ch] = best
            arg[ch] = Float(bestAt)
            ch += 1
          }
          out += c
          arg += c
        }
      }
    }
  }

  static func maxBackwardSamples(
    _ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>, batch: Int, _ g: Window2D,
    into dx: UnsafeMutablePointer<Float>
  ) {
    if g.tiles { return maxBackwardTiled(dy, argmax: argmax, batch: batch, g, into: dx) }
    dx.update(repeating: 0, count: batch * g.inputWidth)
    let perSample = g.positions * g.channels
    for n in 0..<batch {
      let d = dx + n * g.inputWidth
      let src = dy + n * perSample
      let arg = argmax + n * perSample
      for i in 0..<perSample { d[Int(arg[i])] += src[i] }
    }
  }

  /// Windows that tile the input (strides = pool size, no padding: the book's MaxPooling2D(2))
  /// own their input positions alone, so dx is written in one sequential pass: dy where the
  /// position is its window's argmax, 0 elsewhere, and 0 on the rows and columns no window
  /// covers. No zeroing pass, no scattered adds.
  static func maxBackwardTiled(
    _ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>, batch: Int, _ g: Window2D,
    into dx: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    let (kh, kw) = (g.kernelH, g.kernelW)
    let lanes = SIMD8<Float>(0, 1, 2, 3, 4, 5, 6, 7)
    let covered = g.outW &* kw &* c  // values of an input row inside some window
    let rowValues = g.inW &* c
    for n in 0..<batch {
      let d = dx + n &* g.inputWidth
      let gy = dy + n &* g.positions &* c
      let arg = argmax + n &* g.positions &* c
      for oh in 0..<g.outH {
        for ki in 0..<kh {
          let ih = oh &* kh &+ ki
          for ow in 0..<g.outW {
            let a = arg + (oh &* g.outW &+ ow) &* c
            let v = gy + (oh &* g.outW &+ ow) &* c
            for kj in 0..<kw {
              let offset = (ih &* g.inW &+ ow &* kw &+ kj) &* c
              var ch = 0
              while ch &+ 8 <= c {
                var out = Elementwise.load8(v + ch)
                let here = SIMD8<Float>(repeating: Float(offset &+ ch)) + lanes
                out.replace(with: 0, where: Elementwise.load8(a + ch) .!= here)
                Elementwise.store8(out, d + (offset &+ ch))
                ch &+= 8
              }
              while ch < c {
                d[offset &+ ch] = a[ch] == Float(offset &+ ch) ? v[ch] : 0
                ch &+= 1
              }
            }
          }
          (d + (ih &* rowValues &+ covered)).update(repeating: 0, count: rowValues &- covered)
        }
      }
      let firstUncovered = g.outH &* kh &* rowValues
      (d + firstUncovered).update(repeating: 0, count: g.inputWidth &- firstUncovered)
    }
  }

  static func averageForwardSamples(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, output y: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    var out = y
    for n in 0..<batch {
      let xs = x + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          out.update(repeating: 0, count: c)
          for ki in r.lo..<r.hi {
            for kj in col.lo..<col.hi {
              let src = xs + ((r.start + ki) * g.inW + col.start + kj) * c
              for ch in 0..<c { out[ch] += src[ch] }
            }
          }
          let scale = 1 / Float((r.hi - r.lo) * (col.hi - col.lo))
          for ch in 0..<c { out[ch] *= scale }
          out += c
        }
      }
    }
  }

  static func averageBackwardSamples(
    _ dy: UnsafePointer<Float>, batch: Int, _ g: Window2D, into dx: UnsafeMutablePointer<Float>
  ) {
    dx.update(repeating: 0, count: batch * g.inputWidth)
    let c = g.channels
    var src = dy
    for n in 0..<batch {
      let xs = dx + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          let scale = 1 / Float((r.hi - r.lo) * (col.hi - col.lo))
          for ki in r.lo..<r.hi {
            for kj in col.lo..<col.hi {
              let d = xs + ((r.start + ki) * g.inW + col.start + kj) * c
              for ch in 0..<c { d[ch] += src[ch] * scale }
            }
          }
          src += c
        }
      }
    }
  }
}
