/// Max and average pooling over channels-last 2-D windows, forward and backward, on raw
/// buffers of `batch` samples: x (batch, inH, inW, c), y (batch, outH, outW, c).
/// Padding never contributes: max ignores it (as padding with -inf does), average divides by
/// the number of input positions inside the window (what TF and Keras do for 'same').
public enum Pooling {
  /// y = max over each window; `argmax` (shaped like y) gets the winning input offset within
  /// its sample, as a Float (exact below 2^24 values per sample). Ties go to the first.
  public static func maxForward(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window2D, output y: UnsafeMutablePointer<Float>,
    argmax: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    var out = y
    var arg = argmax
    for n in 0..<batch {
      let xs = x + n * g.inputWidth
      for oh in 0..<g.outH {
        let r = g.rows(oh)
        for ow in 0..<g.outW {
          let col = g.columns(ow)
          var first = true
          for ki in r.lo..<r.hi {
            for kj in col.lo..<col.hi {
              let offset = ((r.start + ki) * g.inW + col.start + kj) * c
              let src = xs + offset
              if first {
                for ch in 0..<c {
                  out[ch] = src[ch]
                  arg[ch] = Float(offset + ch)
                }
                first = false
              } else {
                // Branch-free so the channel loop vectorises.
                for ch in 0..<c {
                  let v = src[ch]
                  let better = v > out[ch]
                  out[ch] = better ? v : out[ch]
                  arg[ch] = better ? Float(offset + ch) : arg[ch]
                }
              }
            }
          }
          out += c
          arg += c
        }
      }
    }
  }

  /// dx = dy routed to each window's argmax (summed where windows overlap). Overwrites dx.
  public static func maxBackward(
    _ dy: UnsafePointer<Float>, argmax: UnsafePointer<Float>, batch: Int, _ g: Window2D,
    into dx: UnsafeMutablePointer<Float>
  ) {
    dx.update(repeating: 0, count: batch * g.inputWidth)
    let perSample = g.positions * g.channels
    for n in 0..<batch {
      let d = dx + n * g.inputWidth
      let src = dy + n * perSample
      let arg = argmax + n * perSample
      for i in 0..<perSample { d[Int(arg[i])] += src[i] }
    }
  }

  /// y = mean over the input positions of each window.
  public static func averageForward(
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

  /// dx = each window's dy spread evenly over its input positions. Overwrites dx.
  public static func averageBackward(
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
