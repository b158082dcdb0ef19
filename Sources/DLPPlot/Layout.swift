import Foundation

/// A figure laid out as drawing primitives in pixels (origin top-left), which the PNG and the
/// SVG renderers draw the same way.
public enum Primitive {
  case rect(x: Double, y: Double, width: Double, height: Double, fill: RGB?, stroke: RGB?)
  case line(points: [(x: Double, y: Double)], width: Double, color: RGB)
  case dot(x: Double, y: Double, radius: Double, color: RGB)
  /// Text whose box's top is at `y`; `anchor` says where `x` is (start, middle, end); `scale`
  /// is the bitmap font's pixel size (the SVG uses a font of the same height).
  case text(String, x: Double, y: Double, scale: Int, anchor: Anchor, vertical: Bool, color: RGB)

  public enum Anchor { case start, middle, end }
}

public enum Layout {
  static let margin = (left: 96.0, right: 24.0, top: 56.0, bottom: 76.0)
  static let textScale = 2

  public static func primitives(_ figure: Figure) -> [Primitive] {
    var out: [Primitive] = [
      .rect(x: 0, y: 0, width: Double(figure.width), height: Double(figure.height), fill: .white, stroke: nil)
    ]
    for (k, panel) in figure.panels.enumerated() {
      out += self.panel(
        panel, originX: Double(k * figure.panelWidth), width: Double(figure.panelWidth),
        height: Double(figure.panelHeight))
    }
    return out
  }

  static func panel(_ p: Panel, originX: Double, width: Double, height: Double) -> [Primitive] {
    let left = originX + margin.left
    let right = originX + width - margin.right
    let top = margin.top
    let bottom = height - margin.bottom
    var out: [Primitive] = []
    let lineHeight = Double(Canvas.textHeight(scale: textScale))
    out.append(
      .text(p.title, x: (left + right) / 2, y: 18, scale: textScale, anchor: .middle, vertical: false, color: .black))
    out.append(
      .text(
        p.xLabel, x: (left + right) / 2, y: height - 30, scale: textScale, anchor: .middle, vertical: false,
        color: .black))
    out.append(
      .text(
        p.yLabel, x: originX + 14, y: (top + bottom) / 2, scale: textScale, anchor: .middle, vertical: true,
        color: .black))

    let all = p.series.flatMap(\.points)
    guard let xMin = all.map(\.x).min(), let xMax = all.map(\.x).max(), let yMin0 = all.map(\.y).min(),
      let yMax0 = all.map(\.y).max()
    else {
      out.append(.rect(x: left, y: top, width: right - left, height: bottom - top, fill: nil, stroke: .black))
      out.append(
        .text(
          "no data", x: (left + right) / 2, y: (top + bottom) / 2, scale: textScale, anchor: .middle, vertical: false,
          color: .grey))
      return out
    }
    // matplotlib's 5% margins around the data.
    let ySpan = yMax0 > yMin0 ? yMax0 - yMin0 : Swift.max(Swift.abs(yMax0) * 0.1, 1)
    let (yMin, yMax) = (yMin0 - 0.05 * ySpan, yMax0 + 0.05 * ySpan)
    let xSpan = xMax > xMin ? xMax - xMin : 1
    let (xLo, xHi) = (xMin - 0.05 * xSpan, xMax + 0.05 * xSpan)
    func px(_ x: Double) -> Double { left + (x - xLo) / (xHi - xLo) * (right - left) }
    func py(_ y: Double) -> Double { bottom - (y - yMin) / (yMax - yMin) * (bottom - top) }

    let xStep = Ticks.step(xLo, xHi, integer: true)
    for t in Ticks.positions(xLo, xHi, step: xStep) {
      out.append(.line(points: [(px(t), bottom), (px(t), bottom + 6)], width: 1.5, color: .black))
      out.append(
        .text(
          Ticks.label(t, step: xStep), x: px(t), y: bottom + 12, scale: textScale, anchor: .middle, vertical: false,
          color: .black))
    }
    let yStep = Ticks.step(yMin, yMax)
    for t in Ticks.positions(yMin, yMax, step: yStep) {
      out.append(.line(points: [(left - 6, py(t)), (left, py(t))], width: 1.5, color: .black))
      out.append(
        .text(
          Ticks.label(t, step: yStep), x: left - 10, y: py(t) - lineHeight / 2, scale: textScale, anchor: .end,
          vertical: false, color: .black))
    }
    for s in p.series {
      switch s.style {
      case .line: out.append(.line(points: s.points.map { (px($0.x), py($0.y)) }, width: 2, color: s.color))
      case .dots: out += s.points.map { .dot(x: px($0.x), y: py($0.y), radius: 3.5, color: s.color) }
      }
    }
    out.append(.rect(x: left, y: top, width: right - left, height: bottom - top, fill: nil, stroke: .black))
    out += legend(p.series, left: left, right: right, top: top, bottom: bottom) { (px($0.x), py($0.y)) }
    return out
  }

  /// The legend in the corner of the plot that covers the fewest points (matplotlib's "best").
  static func legend(
    _ series: [Series], left: Double, right: Double, top: Double, bottom: Double,
    position: ((x: Double, y: Double)) -> (Double, Double)
  ) -> [Primitive] {
    guard !series.isEmpty else { return [] }
    let rowHeight = 24.0
    let w = Double(series.map { Canvas.textWidth($0.name, scale: textScale) }.max() ?? 0) + 58
    let h = rowHeight * Double(series.count) + 12
    let corners = [
      (right - w - 10, top + 10), (right - w - 10, bottom - h - 10), (left + 10, top + 10),
      (left + 10, bottom - h - 10),
    ]
    let points = series.flatMap(\.points).map(position)
    let (x, y) = corners.min { a, b in
      func covered(_ c: (Double, Double)) -> Int {
        points.filter { $0.0 >= c.0 && $0.0 <= c.0 + w && $0.1 >= c.1 && $0.1 <= c.1 + h }.count
      }
      return covered(a) < covered(b)
    }!
    var out: [Primitive] = [.rect(x: x, y: y, width: w, height: h, fill: .white, stroke: .lightGrey)]
    for (i, s) in series.enumerated() {
      let cy = y + 6 + rowHeight * (Double(i) + 0.5)
      switch s.style {
      case .dots: out.append(.dot(x: x + 24, y: cy, radius: 3.5, color: s.color))
      case .line: out.append(.line(points: [(x + 10, cy), (x + 38, cy)], width: 2, color: s.color))
      }
      out.append(
        .text(
          s.name, x: x + 48, y: cy - Double(Canvas.textHeight(scale: textScale)) / 2, scale: textScale, anchor: .start,
          vertical: false, color: .black))
    }
    return out
  }
}
