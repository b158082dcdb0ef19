import Foundation

/// An RGB color, 8 bits a channel.
public struct RGB: Sendable, Equatable {
  public var r: UInt8, g: UInt8, b: UInt8
  public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { (self.r, self.g, self.b) = (r, g, b) }
  public static let white = RGB(255, 255, 255)
  public static let black = RGB(0, 0, 0)
  public static let grey = RGB(120, 120, 120)
  public static let lightGrey = RGB(225, 225, 225)
  /// matplotlib's "b" and "o"-marker blue, as in the book's figures.
  public static let blue = RGB(0, 0, 255)

  public var hex: String { String(format: "#%02x%02x%02x", r, g, b) }
}

/// A small rasteriser: an RGB image with anti-aliased lines and dots (coverage blended over
/// what is there), axis-aligned rectangles and text in the built-in 5x7 font.
public struct Canvas {
  public let width: Int
  public let height: Int
  /// Row-major RGB bytes.
  public private(set) var pixels: [UInt8]

  public init(width: Int, height: Int, background: RGB = .white) {
    self.width = width
    self.height = height
    pixels = [UInt8](repeating: 0, count: width * height * 3)
    for i in 0..<(width * height) {
      pixels[3 * i] = background.r
      pixels[3 * i + 1] = background.g
      pixels[3 * i + 2] = background.b
    }
  }

  /// Blends `color` over pixel (x, y) with coverage `alpha` in [0, 1].
  public mutating func blend(_ x: Int, _ y: Int, _ color: RGB, _ alpha: Double) {
    guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
    let a = Swift.min(alpha, 1)
    let i = 3 * (y * width + x)
    func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Double(old) * (1 - a) + Double(new) * a).rounded()) }
    pixels[i] = mix(pixels[i], color.r)
    pixels[i + 1] = mix(pixels[i + 1], color.g)
    pixels[i + 2] = mix(pixels[i + 2], color.b)
  }

  public mutating func fill(x: Int, y: Int, width w: Int, height h: Int, _ color: RGB) {
    for yy in Swift.max(0, y)..<Swift.min(height, y + h) {
      for xx in Swift.max(0, x)..<Swift.min(width, x + w) { blend(xx, yy, color, 1) }
    }
  }

  /// A filled disk of `radius` centred at (cx, cy), its edge anti-aliased.
  public mutating func disk(_ cx: Double, _ cy: Double, radius: Double, _ color: RGB) {
    let r = Int((radius + 1).rounded(.up))
    for y in (Int(cy) - r)...(Int(cy) + r) {
      for x in (Int(cx) - r)...(Int(cx) + r) {
        let d = ((Double(x) + 0.5 - cx) * (Double(x) + 0.5 - cx) + (Double(y) + 0.5 - cy) * (Double(y) + 0.5 - cy))
          .squareRoot()
        blend(x, y, color, radius + 0.5 - d)
      }
    }
  }

  /// A line of `thickness` pixels: the distance of each nearby pixel centre to the segment
  /// gives its coverage, so the line is anti-aliased at any slope.
  public mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, thickness: Double, _ color: RGB) {
    let half = thickness / 2
    let (dx, dy) = (x1 - x0, y1 - y0)
    let length2 = Swift.max(dx * dx + dy * dy, 1e-12)
    let lo = (
      x: Int((Swift.min(x0, x1) - half - 1).rounded(.down)), y: Int((Swift.min(y0, y1) - half - 1).rounded(.down))
    )
    let hi = (x: Int((Swift.max(x0, x1) + half + 1).rounded(.up)), y: Int((Swift.max(y0, y1) + half + 1).rounded(.up)))
    for y in Swift.max(lo.y, 0)...Swift.min(hi.y, height - 1) {
      for x in Swift.max(lo.x, 0)...Swift.min(hi.x, width - 1) {
        let (px, py) = (Double(x) + 0.5, Double(y) + 0.5)
        let t = Swift.min(Swift.max(((px - x0) * dx + (py - y0) * dy) / length2, 0), 1)
        let (qx, qy) = (x0 + t * dx - px, y0 + t * dy - py)
        blend(x, y, color, half + 0.5 - (qx * qx + qy * qy).squareRoot())
      }
    }
  }

  /// Text with its top-left corner at (x, y), each font pixel `scale` pixels square; rotated a
  /// quarter turn counter-clockwise when `vertical` (reading upwards, for a y-axis label).
  public mutating func text(_ s: String, x: Int, y: Int, scale: Int, _ color: RGB, vertical: Bool = false) {
    for (k, c) in s.enumerated() {
      let rows = BitmapFont.rows(c)
      for (row, bits) in rows.enumerated() {
        for col in 0..<BitmapFont.width where bits & (0x10 >> UInt8(col)) != 0 {
          let u = k * Canvas.advance + col
          if vertical {
            fill(x: x + row * scale, y: y - (u + 1) * scale, width: scale, height: scale, color)
          } else {
            fill(x: x + u * scale, y: y + row * scale, width: scale, height: scale, color)
          }
        }
      }
    }
  }

  /// Font columns per character, spacing included.
  static let advance = BitmapFont.width + 1

  public static func textWidth(_ s: String, scale: Int) -> Int { Swift.max(s.count * advance - 1, 0) * scale }
  public static func textHeight(scale: Int) -> Int { BitmapFont.height * scale }
}
