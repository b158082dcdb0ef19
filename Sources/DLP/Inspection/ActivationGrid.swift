/// The book's picture of a layer's activations (Chollet ch. 9): every channel of one image's
/// (h, w, channels) activation as a small grayscale image, standardised (zero mean, unit
/// deviation, times 64, plus 128, clipped to [0, 255]; a constant channel stays black), tiled
/// `perRow` to a row with 1-pixel gaps.
public enum ActivationGrid {
  /// Grayscale pixels and the grid's size.
  public static func tile(_ activation: Tensor, perRow: Int = 16) throws -> (pixels: [UInt8], height: Int, width: Int) {
    let s = activation.shape
    guard s.count == 3, s.allSatisfy({ $0 > 0 }) else {
      throw DLPError.shape(
        "an activation grid needs one image's (height, width, channels) activation; received shape \(s)")
    }
    let (h, w, c) = (s[0], s[1], s[2])
    let perRow = Swift.max(1, Swift.min(perRow, c))
    let rows = (c + perRow - 1) / perRow
    let (height, width) = (rows * (h + 1) - 1, perRow * (w + 1) - 1)
    var pixels = [UInt8](repeating: 0, count: height * width)
    let a = activation.scalars
    for k in 0..<c {
      var mean: Double = 0
      for p in 0..<(h * w) { mean += Double(a[p * c + k]) }
      mean /= Double(h * w)
      var variance: Double = 0
      for p in 0..<(h * w) { variance += (Double(a[p * c + k]) - mean) * (Double(a[p * c + k]) - mean) }
      let std = (variance / Double(h * w)).squareRoot()
      let (top, left) = ((k / perRow) * (h + 1), (k % perRow) * (w + 1))
      guard std > 0 else { continue }
      for y in 0..<h {
        for x in 0..<w {
          let v = (Double(a[(y * w + x) * c + k]) - mean) / std * 64 + 128
          pixels[(top + y) * width + left + x] = UInt8(Swift.min(Swift.max(v, 0), 255))
        }
      }
    }
    return (pixels, height, width)
  }
}
