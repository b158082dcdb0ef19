import Foundation

/// What a figure shows: panels side by side, each with a title, axis labels and series of
/// (x, y) points drawn as dots (the book's "bo") or as a line ("b").
public struct Series: Sendable {
  public enum Style: Sendable { case dots, line }
  public var name: String
  public var points: [(x: Double, y: Double)]
  public var style: Style
  public var color: RGB

  public init(name: String, points: [(x: Double, y: Double)], style: Style, color: RGB = .blue) {
    self.name = name
    self.points = points.filter { $0.x.isFinite && $0.y.isFinite }
    self.style = style
    self.color = color
  }
}

public struct Panel: Sendable {
  public var title: String
  public var xLabel: String
  public var yLabel: String
  public var series: [Series]

  public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
    (self.title, self.xLabel, self.yLabel, self.series) = (title, xLabel, yLabel, series)
  }
}

public struct Figure: Sendable {
  public var panels: [Panel]
  public var panelWidth = 600
  public var panelHeight = 450

  public init(panels: [Panel]) { self.panels = panels }

  public var width: Int { panelWidth * panels.count }
  public var height: Int { panelHeight }
}

/// Tick positions at "nice" steps (1, 2 or 5 times a power of ten) covering [lo, hi].
enum Ticks {
  static func step(_ lo: Double, _ hi: Double, target: Int = 6, integer: Bool = false) -> Double {
    let raw = Swift.max(hi - lo, 1e-300) / Double(target)
    let magnitude = pow(10, (log10(raw)).rounded(.down))
    let f = raw / magnitude
    let nice = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude
    return integer ? Swift.max(nice.rounded(), 1) : nice
  }

  static func positions(_ lo: Double, _ hi: Double, step: Double) -> [Double] {
    var out: [Double] = []
    var v = (lo / step).rounded(.up) * step
    while v <= hi + step * 1e-9 && out.count < 100 {
      out.append(Swift.abs(v) < step * 1e-9 ? 0 : v)
      v += step
    }
    return out
  }

  /// A tick's label with as many decimals as the step needs (`%g` for very large or small).
  static func label(_ v: Double, step: Double) -> String {
    if Swift.abs(v) >= 1e6 || (step < 1e-4 && v != 0) { return String(format: "%g", v) }
    let decimals = Swift.max(0, -Int(log10(step).rounded(.down)))
    return String(format: "%.\(decimals)f", v)
  }
}
