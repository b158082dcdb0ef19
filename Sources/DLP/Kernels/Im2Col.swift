/// im2col and col2im for channels-last 2-D windows: they turn a convolution into one matrix
/// product. Row `(n, oh, ow)` of the column matrix holds the receptive field of output
/// position (oh, ow) of sample n, flattened as (kh, kw, c), the row order of a Keras kernel
/// (kh, kw, in, out) seen as a (kh * kw * in, out) matrix. Padding reads as zeros.
public enum Im2Col {
  /// cols (batch * outH * outW, kh * kw * c) <- x (batch, inH, inW, c).
  public static func im2col(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, into cols: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    let rowWidth = g.kernelW * c  // one kernel row: kw positions of c channels, contiguous in x
    let patch = g.patchWidth
    var dst = cols
    for n in 0..<batch {
      let xs = x + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          let inside = col.hi - col.lo
          for ki in 0..<g.kernelH {
            let d = dst + ki * rowWidth
            guard ki >= r.lo, ki < r.hi, inside > 0 else {
              d.update(repeating: 0, count: rowWidth)
              continue
            }
            if col.lo > 0 { d.update(repeating: 0, count: col.lo * c) }
            copy(d + col.lo * c, xs + ((r.start + ki) * g.inW + col.start + col.lo) * c, inside * c)
            if col.hi < g.kernelW { (d + col.hi * c).update(repeating: 0, count: (g.kernelW - col.hi) * c) }
          }
          dst += patch
        }
      }
    }
  }

  /// dx (batch, inH, inW, c) <- the sum, over every window, of its column-matrix row: the
  /// adjoint of `im2col`. Overwrites dx.
  public static func col2im(
    _ cols: UnsafePointer<Float>, batch: Int, _ g: Window2D, into dx: UnsafeMutablePointer<Float>
  ) {
    dx.update(repeating: 0, count: batch * g.inputWidth)
    let c = g.channels
    let rowWidth = g.kernelW * c
    let patch = g.patchWidth
    var src = cols
    for n in 0..<batch {
      let xs = dx + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          let count = (col.hi - col.lo) * c
          if count > 0 {
            for ki in r.lo..<Swift.max(r.lo, r.hi) {
              add(xs + ((r.start + ki) * g.inW + col.start + col.lo) * c, src + ki * rowWidth + col.lo * c, count)
            }
          }
          src += patch
        }
      }
    }
  }

  /// Short copies are common (one kernel row of a single-channel image is 3 floats): a plain
  /// loop avoids a memmove call for them.
  @inline(__always) static func copy(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ count: Int) {
    if count >= 32 {
      d.update(from: s, count: count)
    } else {
      for i in 0..<count { d[i] = s[i] }
    }
  }

  @inline(__always) static func add(_ d: UnsafeMutablePointer<Float>, _ s: UnsafePointer<Float>, _ count: Int) {
    for i in 0..<count { d[i] += s[i] }
  }
}
