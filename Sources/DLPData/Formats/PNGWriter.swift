import CZlib
import DLPTensor
import Foundation

/// Writes 8-bit PNG images (grayscale, RGB or RGBA) with zlib: the signature, IHDR, one IDAT of
/// the deflated scanlines (filter type 0), IEND, each chunk with its CRC-32. Enough for the
/// pictures DLP draws (activation grids, heatmaps, filter patterns).
public enum PNGWriter {
  /// PNG bytes of a `height` x `width` image with `channels` (1, 3 or 4) interleaved 8-bit
  /// samples per pixel, rows top to bottom.
  public static func encode(pixels: [UInt8], height: Int, width: Int, channels: Int) throws -> [UInt8] {
    let colorType: UInt8
    switch channels {
    case 1: colorType = 0
    case 3: colorType = 2
    case 4: colorType = 6
    default: throw DLPError.config("PNG images have 1, 3 or 4 channels; received \(channels)")
    }
    guard height > 0, width > 0, pixels.count == height * width * channels else {
      throw DLPError.shape(
        "a \(height) x \(width) x \(channels) image needs \(height * width * channels) samples, received \(pixels.count)"
      )
    }
    var raw = [UInt8](repeating: 0, count: height * (1 + width * channels))
    for y in 0..<height {
      let row = y * (1 + width * channels)
      raw[row] = 0  // filter type None
      raw.replaceSubrange(
        (row + 1)..<(row + 1 + width * channels), with: pixels[(y * width * channels)..<((y + 1) * width * channels)])
    }
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var header: [UInt8] = []
    header += bigEndian(UInt32(width))
    header += bigEndian(UInt32(height))
    header += [8, colorType, 0, 0, 0]  // bit depth, colour type, compression, filter, interlace
    chunk("IHDR", header, into: &out)
    chunk("IDAT", try deflate(raw), into: &out)
    chunk("IEND", [], into: &out)
    return out
  }

  /// Encodes and writes atomically.
  public static func write(pixels: [UInt8], height: Int, width: Int, channels: Int, to url: URL) throws {
    try FileIO.writeAtomically(encode(pixels: pixels, height: height, width: width, channels: channels), to: url)
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] {
    [UInt8(v >> 24), UInt8((v >> 16) & 0xFF), UInt8((v >> 8) & 0xFF), UInt8(v & 0xFF)]
  }

  static func chunk(_ type: String, _ data: [UInt8], into out: inout [UInt8]) {
    let typed = Array(type.utf8) + data
    out += bigEndian(UInt32(data.count))
    out += typed
    out += bigEndian(Gzip.crc32(typed[...]))
  }

  /// A zlib stream of `bytes` (compress2, level 6).
  static func deflate(_ bytes: [UInt8]) throws -> [UInt8] {
    var size = compressBound(uLong(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let rc = out.withUnsafeMutableBufferPointer { o in
      bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(bytes.count), 6) }
    }
    guard rc == Z_OK else { throw DLPError.io("zlib could not compress a PNG image (error \(rc))") }
    return Array(out[0..<Int(size)])
  }
}
