/// Bilinear resizing with half-pixel centres and no antialiasing, in the form of TensorFlow's
/// `tf.image.resize(method="bilinear")` (what `image_dataset_from_directory` resizes with):
/// output pixel i of an axis samples the input at s = (i + 0.5) * in / out - 0.5, between
/// pixels max(floor(s), 0) and min(ceil(s), in - 1), as top + (bottom - top) * (s - floor(s)).
/// JAX's `image.resize` (the `Resizing` layer on JAX) samples the same points with the same
/// clamping at the edges, as a weighted sum instead: they agree to float32 rounding.
public struct BilinearResize: Sendable {
  public let inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, channels: Int
  /// Per output row / column: the two input indices and the weight of the second.
  let rows: [(Int, Int, Float)]
  let cols: [(Int, Int, Float)]

  public init(inHeight: Int, inWidth: Int, outHeight: Int, outWidth: Int, channels: Int) {
    (self.inHeight, self.inWidth, self.outHeight, self.outWidth, self.channels) =
      (inHeight, inWidth, outHeight, outWidth, channels)
    rows = Self.axis(inHeight, outHeight)
    cols = Self.axis(inWidth, outWidth)
  }

  static func axis(_ n: Int, _ m: Int) -> [(Int, Int, Float)] {
    let scale = Float(n) / Float(m)
    return (0..<m).map { i in
      let s = (Float(i) + 0.5) * scale - 0.5
      let f = s.rounded(.down)
      let lo = Swift.max(Int(f), 0)
      let hi = Swift.min(Int(s.rounded(.up)), n - 1)
      return (Swift.min(lo, n - 1), Swift.max(hi, 0), s - f)
    }
  }

  /// True when the output samples the input pixels themselves (same size).
  public var isIdentity: Bool { inHeight == outHeight && inWidth == outWidth }

  /// out (outH, outW, C) <- x (inH, inW, C), values from `read(index)` (float32 or uint8 input).
  @inline(__always)
  public func forward(read: (Int) -> Float, into out: UnsafeMutablePointer<Float>) {
    let c = channels
    for (oy, (y0, y1, wy)) in rows.enumerated() {
      for (ox, (x0, x1, wx)) in cols.enumerated() {
        let o = out + (oy * outWidth + ox) * c
        let (tl, tr) = ((y0 * inWidth + x0) * c, (y0 * inWidth + x1) * c)
        let (bl, br) = ((y1 * inWidth + x0) * c, (y1 * inWidth + x1) * c)
        for k in 0..<c {
          let top = read(tl + k) + (read(tr + k) - read(tl + k)) * wx
          let bottom = read(bl + k) + (read(br + k) - read(bl + k)) * wx
          o[k] = top + (bottom - top) * wy
        }
      }
    }
  }

  public func forward(_ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>) {
    forward(read: { x[$0] }, into: out)
  }

  /// dx (inH, inW, C) <- the adjoint of `forward` applied to dy (overwrites dx).
  public func backward(_ dy: UnsafePointer<Float>, into dx: UnsafeMutablePointer<Float>) {
    let c = channels
    dx.update(repeating: 0, count: inHeight * inWidth * c)
    for (oy, (y0, y1, wy)) in rows.enumerated() {
      for (ox, (x0, x1, wx)) in cols.enumerated() {
        let g = dy + (oy * outWidth + ox) * c
        @inline(__always) func add(_ y: Int, _ x: Int, _ w: Float) {
          let d = dx + (y * inWidth + x) * c
          for k in 0..<c { d[k] += w * g[k] }
        }
        add(y0, x0, (1 - wy) * (1 - wx))
        add(y0, x1, (1 - wy) * wx)
        add(y1, x0, wy * (1 - wx))
        add(y1, x1, wy * wx)
      }
    }
  }
}

extension DecodedImage {
  /// Float samples (H', W', C) in [0, 255], bilinearly resized as `tf.image.resize` does (the
  /// image itself when the size is already right).
  public func floats(height h: Int, width w: Int) -> [Float] {
    var out = [Float](repeating: 0, count: h * w * channels)
    let r = BilinearResize(inHeight: height, inWidth: width, outHeight: h, outWidth: w, channels: channels)
    pixels.withUnsafeBufferPointer { p in
      out.withUnsafeMutableBufferPointer { o in r.forward(read: { Float(p[$0]) }, into: o.baseAddress!) }
    }
    return out
  }
}
