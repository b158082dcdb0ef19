/// Matplotlib's `jet` colormap (its segment data, sampled at 256 points as matplotlib's lookup
/// table is): what the book colours Grad-CAM heatmaps with.
public enum Colormap {
  static let jetSegments: [[(Double, Double)]] = [
    [(0, 0), (0.35, 0), (0.66, 1), (0.89, 1), (1, 0.5)],
    [(0, 0), (0.125, 0), (0.375, 1), (0.64, 1), (0.91, 0), (1, 0)],
    [(0, 0.5), (0.11, 1), (0.34, 1), (0.65, 0), (1, 0)],
  ]

  /// jet[i] = (r, g, b) in [0, 1] for i in 0...255.
  public static let jet: [(Float, Float, Float)] = (0..<256).map { i in
    let x = Double(i) / 255
    func channel(_ segments: [(Double, Double)]) -> Float {
      for k in 1..<segments.count where x <= segments[k].0 {
        let (x0, y0) = segments[k - 1]
        let (x1, y1) = segments[k]
        return Float(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
      }
      return Float(segments.last!.1)
    }
    return (channel(jetSegments[0]), channel(jetSegments[1]), channel(jetSegments[2]))
  }
}
