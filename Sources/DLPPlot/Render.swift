import Foundation

/// Draws a laid-out figure as a PNG (through `Canvas`) or as SVG text.
public enum Render {
  public static func png(_ figure: Figure) throws -> [UInt8] {
    var canvas = Canvas(width: figure.width, height: figure.height)
    for p in Layout.primitives(figure) {
      switch p {
      case .rect(let x, let y, let w, let h, let fill, let stroke):
        if let fill { canvas.fill(x: Int(x), y: Int(y), width: Int(w), height: Int(h), fill) }
        if let stroke {
          let (x0, y0, x1, y1) = (x.rounded(), y.rounded(), (x + w).rounded(), (y + h).rounded())
          for (a, b) in [((x0, y0), (x1, y0)), ((x1, y0), (x1, y1)), ((x1, y1), (x0, y1)), ((x0, y1), (x0, y0))] {
            canvas.line(a.0, a.1, b.0, b.1, thickness: 1.5, stroke)
          }
        }
      case .line(let points, let width, let color):
        for (a, b) in zip(points, points.dropFirst()) { canvas.line(a.x, a.y, b.x, b.y, thickness: width, color) }
      case .dot(let x, let y, let r, let color):
        canvas.disk(x, y, radius: r, color)
      case .text(let s, let x, let y, let scale, let anchor, let vertical, let color):
        let length = Double(Canvas.textWidth(s, scale: scale))
        let shift = anchor == .start ? 0 : anchor == .middle ? length / 2 : length
        if vertical {
          canvas.text(s, x: Int(x), y: Int((y + shift).rounded()), scale: scale, color, vertical: true)
        } else {
          canvas.text(s, x: Int((x - shift).rounded()), y: Int(y.rounded()), scale: scale, color)
        }
      }
    }
    return try PNGEncoder.encode(canvas)
  }

  public static func svg(_ figure: Figure) -> String {
    func n(_ v: Double) -> String { String(format: "%.1f", v) }
    func escape(_ s: String) -> String {
      s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(
        of: ">", with: "&gt;")
    }
    var out = [
      "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(figure.width)\" height=\"\(figure.height)\" viewBox=\"0 0 \(figure.width) \(figure.height)\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\">",
    ]
    for p in Layout.primitives(figure) {
      switch p {
      case .rect(let x, let y, let w, let h, let fill, let stroke):
        out.append(
          "<rect x=\"\(n(x))\" y=\"\(n(y))\" width=\"\(n(w))\" height=\"\(n(h))\" fill=\"\(fill?.hex ?? "none")\"\(stroke.map { " stroke=\"\($0.hex)\" stroke-width=\"1.5\"" } ?? "")/>"
        )
      case .line(let points, let width, let color):
        let list = points.map { "\(n($0.x)),\(n($0.y))" }.joined(separator: " ")
        out.append(
          "<polyline points=\"\(list)\" fill=\"none\" stroke=\"\(color.hex)\" stroke-width=\"\(n(width))\" stroke-linejoin=\"round\"/>"
        )
      case .dot(let x, let y, let r, let color):
        out.append("<circle cx=\"\(n(x))\" cy=\"\(n(y))\" r=\"\(n(r))\" fill=\"\(color.hex)\"/>")
      case .text(let s, let x, let y, let scale, let anchor, let vertical, let color):
        let size = Double(Canvas.textHeight(scale: scale)) * 1.3
        let a = anchor == .start ? "start" : anchor == .middle ? "middle" : "end"
        if vertical {
          let cx = x + size * 0.4
          out.append(
            "<text x=\"\(n(cx))\" y=\"\(n(y))\" font-size=\"\(n(size))\" text-anchor=\"\(a)\" fill=\"\(color.hex)\" dominant-baseline=\"central\" transform=\"rotate(-90 \(n(cx)) \(n(y)))\">\(escape(s))</text>"
          )
        } else {
          out.append(
            "<text x=\"\(n(x))\" y=\"\(n(y + size * 0.4))\" font-size=\"\(n(size))\" text-anchor=\"\(a)\" fill=\"\(color.hex)\" dominant-baseline=\"central\">\(escape(s))</text>"
          )
        }
      }
    }
    out.append("</svg>")
    return out.joined(separator: "\n") + "\n"
  }
}
