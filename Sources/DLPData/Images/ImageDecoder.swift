import CJPEG
import CPNG
import DLPTensor
import Foundation

/// Keras's `color_mode`: how many channels decoded images get.
public enum ColorMode: String, Sendable, CaseIterable {
  case grayscale, rgb, rgba

  public var channels: Int {
    switch self {
    case .grayscale: return 1
    case .rgb: return 3
    case .rgba: return 4
    }
  }

  public init(parsing s: String) throws {
    guard let m = ColorMode(rawValue: s) else {
      throw DLPError.config("color_mode must be one of rgb, grayscale, rgba. Received: color_mode=\(s)")
    }
    self = m
  }
}

/// An image of 8-bit samples, rows top to bottom, channels interleaved (H, W, C).
public struct DecodedImage: Sendable {
  public let height: Int
  public let width: Int
  public let channels: Int
  public var pixels: [UInt8]

  public init(height: Int, width: Int, channels: Int, pixels: [UInt8]) {
    (self.height, self.width, self.channels, self.pixels) = (height, width, channels, pixels)
  }
}

/// PNG (libpng) and JPEG (libjpeg-turbo) decoding to a color mode, as `tf.image.decode_image`
/// gives images to `image_dataset_from_directory`: JPEG through libjpeg's own grayscale
/// conversion and TensorFlow's DCT (integer fast); PNG to 8 bits, color to gray by the same
/// ITU-R BT.601 weights libjpeg uses, gray to color by replication, alpha dropped for rgb and
/// added (opaque) for rgba.
public enum ImageDecoder {
  public static func decode(file path: String, colorMode: ColorMode) throws -> DecodedImage {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw DLPError.io("cannot read image \(path)")
    }
    return try decode([UInt8](data), colorMode: colorMode, source: path)
  }

  public static func decode(_ bytes: [UInt8], colorMode: ColorMode, source: String) throws -> DecodedImage {
    if bytes.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) {
      return try convert(decodePNG(bytes, source: source), to: colorMode)
    }
    if bytes.starts(with: [0xFF, 0xD8, 0xFF]) {
      return try convert(decodeJPEG(bytes, gray: colorMode == .grayscale, source: source), to: colorMode)
    }
    throw DLPError.data(
      "\(source) is not a PNG or JPEG image (it starts with bytes \(bytes.prefix(4).map { String(format: "%02x", $0) }.joined(separator: " ")))"
    )
  }

  /// Decodes to the file's own layout: gray, gray + alpha, RGB or RGBA.
  static func decodePNG(_ bytes: [UInt8], source: String) throws -> DecodedImage {
    var image = png_image()
    image.version = UInt32(PNG_IMAGE_VERSION)
    func failure(_ what: String) -> DLPError {
      let message = withUnsafeBytes(of: image.message) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
      png_image_free(&image)
      return DLPError.data("\(source): cannot decode the PNG image (\(what): \(message))")
    }
    let begun = bytes.withUnsafeBytes { png_image_begin_read_from_memory(&image, $0.baseAddress, $0.count) }
    guard begun != 0 else { throw failure("header") }
    let color = image.format & UInt32(PNG_FORMAT_FLAG_COLOR) != 0
    let alpha = image.format & UInt32(PNG_FORMAT_FLAG_ALPHA) != 0
    image.format = (color ? UInt32(PNG_FORMAT_FLAG_COLOR) : 0) | (alpha ? UInt32(PNG_FORMAT_FLAG_ALPHA) : 0)
    let (h, w) = (Int(image.height), Int(image.width))
    let channels = (color ? 3 : 1) + (alpha ? 1 : 0)
    guard h > 0, w > 0, h.multipliedReportingOverflow(by: w * channels).partialValue < 1 << 31 else {
      throw failure("size \(w) x \(h)")
    }
    var pixels = [UInt8](repeating: 0, count: h * w * channels)
    let finished = pixels.withUnsafeMutableBytes { png_image_finish_read(&image, nil, $0.baseAddress, 0, nil) }
    guard finished != 0 else { throw failure("pixels") }
    png_image_free(&image)
    return DecodedImage(height: h, width: w, channels: channels, pixels: pixels)
  }

  static func decodeJPEG(_ bytes: [UInt8], gray: Bool, source: String) throws -> DecodedImage {
    var out: UnsafeMutablePointer<UInt8>?
    var (h, w): (Int32, Int32) = (0, 0)
    var message = [CChar](repeating: 0, count: 256)
    let rc = bytes.withUnsafeBufferPointer { b in
      dlp_jpeg_decode(b.baseAddress, UInt(b.count), gray ? 1 : 3, &out, &h, &w, &message, Int32(message.count))
    }
    guard rc == 0, let p = out else {
      throw DLPError.data("\(source): cannot decode the JPEG image (\(String(cString: message)))")
    }
    defer { free(p) }
    let channels = gray ? 1 : 3
    return DecodedImage(
      height: Int(h), width: Int(w), channels: channels,
      pixels: Array(UnsafeBufferPointer(start: p, count: Int(h) * Int(w) * channels)))
  }

  /// libjpeg's RGB -> gray: (19595 R + 38470 G + 7471 B + 32768) >> 16.
  @inline(__always) static func luma(_ r: UInt8, _ g: UInt8, _ b: UInt8) -> UInt8 {
    let red: Int = 19595 * Int(r)
    let green: Int = 38470 * Int(g)
    let blue: Int = 7471 * Int(b)
    return UInt8((red + green + blue + 32768) >> 16)
  }

  static func convert(_ image: DecodedImage, to mode: ColorMode) -> DecodedImage {
    let c = image.channels
    let target = mode.channels
    if c == target { return image }
    let n = image.height * image.width
    var out = [UInt8](repeating: 255, count: n * target)
    let hasColor = c >= 3
    image.pixels.withUnsafeBufferPointer { src in
      for i in 0..<n {
        let s = src.baseAddress! + i * c
        let (r, g, b) = hasColor ? (s[0], s[1], s[2]) : (s[0], s[0], s[0])
        switch mode {
        case .grayscale: out[i] = hasColor ? luma(r, g, b) : s[0]
        case .rgb, .rgba:
          out[i * target] = r
          out[i * target + 1] = g
          out[i * target + 2] = b
          if mode == .rgba, c == 2 || c == 4 { out[i * target + 3] = s[c - 1] }
        }
      }
    }
    return DecodedImage(height: image.height, width: image.width, channels: target, pixels: out)
  }
}
