import DLPData
import Foundation

/// PNG files (8-bit RGB, no interlace): the signature, IHDR, one IDAT of the zlib-compressed
/// rows (each behind filter byte 0), IEND; every chunk closed by the CRC-32 of its type and data.
public enum PNGEncoder {
  public static func encode(_ canvas: Canvas) throws -> [UInt8] {
    var raw = [UInt8]()
    raw.reserveCapacity((canvas.width * 3 + 1) * canvas.height)
    for y in 0..<canvas.height {
      raw.append(0)
      raw += canvas.pixels[(y * canvas.width * 3)..<((y + 1) * canvas.width * 3)]
    }
    var out: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    var header = [UInt8]()
    header += bigEndian(UInt32(canvas.width))
    header += bigEndian(UInt32(canvas.height))
    header += [8, 2, 0, 0, 0]  // bit depth 8, colour type 2 (RGB), deflate, adaptive filters, no interlace
    out += chunk("IHDR", header)
    out += chunk("IDAT", try Gzip.deflateZlib(raw))
    out += chunk("IEND", [])
    return out
  }

  static func bigEndian(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.bigEndian) { Array($0) } }

  static func chunk(_ type: String, _ data: [UInt8]) -> [UInt8] {
    let typeAndData = Array(type.utf8) + data
    return bigEndian(UInt32(data.count)) + typeAndData + bigEndian(Gzip.crc32(typeAndData[...]))
  }
}
