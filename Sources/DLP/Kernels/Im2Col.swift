/// im2col and col2im for channels-last 2-D windows: they turn a convolution into one matrix
/// product. Row `(n, oh, ow)` of the column matrix holds the receptive field of output
/// position (oh, ow) of sample n, flattened as (kh, kw, c), the row order of a Keras kernel
/// (kh, kw, in, out) seen as a (kh * kw * in, out) matrix. Padding reads as zeros.
public enum Im2Col {
  /// cols (batch * outH * outW, kh * kw * c) <- x (batch, inH, inW, c). Samples are split
  /// across the BLAS threads.
  public static func im2col(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, into cols: UnsafeMutablePointer<Float>
  ) {
    Parallel.forEach(batch) { _, r in
      im2colSamples(
        x + r.lowerBound * g.inputWidth, batch: r.count, g,
        into: cols + r.lowerBound * g.positions * g.patchWidth)
    }
  }

  /// dx (batch, inH, inW, c) <- the sum, over every window, of its column-matrix row: the
  /// adjoint of `im2col`. Overwrites dx.
  public static func col2im(
    _ cols: UnsafePointer<Float>, batch: Int, _ g: Window2D, into dx: UnsafeMutablePointer<Float>
  ) {
    Parallel.forEach(batch) { _, r in
      col2imSamples(
        cols + r.lowerBound * g.positions * g.patchWidth, batch: r.count, g,
        into: dx + r.lowerBound * g.inputWidth)
    }
  }

  static func im2colSamples(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, into cols: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    let rowWidth = g.kernelW &* c  // one kernel row: kw positions of c channels, contiguous in x
    let inRow = g.inW &* c  // one image row
    let (kh, kw) = (g.kernelH, g.kernelW)
    let patch = g.patchWidth
    var dst = cols
    for n in 0..<batch {
      let xs = x + n &* g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          if r.lo == 0, r.hi == kh, col.lo == 0, col.hi == kw {
            // Inside the image (every window of a 'valid' convolution): kh contiguous copies.
            let base = xs + (r.start &* g.inW &+ col.start) &* c
            for ki in 0..<kh { copy(dst + ki &* rowWidth, base + ki &* inRow, rowWidth) }
          } else {
            let inside = col.hi - col.lo
            for ki in 0..<kh {
              let d = dst + ki * rowWidth
              guard ki >= r.lo, ki < r.hi, inside > 0 else {
                d.update(repeating: 0, count: rowWidth)
                continue
              }
              if col.lo > 0 { d.update(repeating: 0, count: col.lo * c) }
              copy(
                d + col.lo * c, xs + ((r.start + ki) * g.inW + col.start + col.lo) * c, inside * c)
              if col.hi < kw { (d + col.hi * c).update(repeating: 0, count: (kw - col.hi) * c) }
            }
          }
          dst += patch
        }
      }
    }
  }

  static func col2imSamples(
    _ cols: UnsafePointer<Float>, batch: Int, _ g: Window2D, into dx: UnsafeMutablePointer<Float>
  ) {
    dx.update(repeating: 0, count: batch * g.inputWidth)
    let c = g.channels
    let rowWidth = g.kernelW &* c
    let inRow = g.inW &* c
    let patch = g.patchWidth
    var src = cols
    for n in 0..<batch {
      let xs = dx + n &* g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          let count = (col.hi - col.lo) &* c
          if count > 0 {
            let base = xs + ((r.start &* g.inW) &+ col.start &+ col.lo) &* c
            let s = src + col.lo &* c
            for ki in r.lo..<Swift.max(r.lo, r.hi) {
              add(base + ki &* inRow, s + ki &* rowWidth, count)
            }
          }
          src += patch
        }
      }
    }
  }

  /// Short copies are common (one kernel row of a single-channel image is 3 floats): a plain
  /// loop avoids a memmove call for them.
  @inline(__always) static func copy(
    _ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ count: Int
  ) {
    if count >= 32 {
      d.update(from: s, count: count)
    } else {
      var i = 0
      while i < count {
        d[i] = s[i]
        i &+= 1
      }
    }
  }

  @inline(__always) static func add(
    _ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ count: Int
  ) {
    var i = 0
    while i &+ 8 <= count {
      Elementwise.store8(Elementwise.load8(d + i) + Elementwise.load8(s + i), d + i)
      i &+= 8
    }
    while i < count {
      d[i] += s[i]
      i &+= 1
    }
  }
}
