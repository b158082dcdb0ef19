/// TFRecord framing, as TensorFlow's event files use it: each record is
///
///     uint64 length | uint32 masked_crc32c(length) | data | uint32 masked_crc32c(data)
///
/// all little-endian, CRC-32C (Castagnoli) masked as `((crc >> 15) | (crc << 17)) + 0xa282ead8`.
public enum TFRecord {
  /// The record around `data`.
  public static func frame(_ data: [UInt8]) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(data.count + 16)
    let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
    out += length
    out += withUnsafeBytes(of: maskedCRC(length).littleEndian) { Array($0) }
    out += data
    out += withUnsafeBytes(of: maskedCRC(data).littleEndian) { Array($0) }
    return out
  }

  /// The records of a file, each checked against both CRCs.
  public static func records(_ bytes: [UInt8], source: String) throws -> [[UInt8]] {
    var records: [[UInt8]] = []
    var i = 0
    func u32(_ at: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(bytes[at + $1]) << (8 * $1) } }
    while i < bytes.count {
      guard bytes.count - i >= 12 else { throw DLPError.data("\(source): truncated record header at byte \(i)") }
      let lengthBytes = Array(bytes[i..<(i + 8)])
      let length = lengthBytes.enumerated().reduce(UInt64(0)) { $0 | UInt64($1.element) << (8 * $1.offset) }
      guard u32(i + 8) == maskedCRC(lengthBytes) else { throw DLPError.data("\(source): bad length CRC at byte \(i)") }
      guard length <= UInt64(bytes.count - i - 16) else {
        throw DLPError.data("\(source): truncated record at byte \(i)")
      }
      let data = Array(bytes[(i + 12)..<(i + 12 + Int(length))])
      guard u32(i + 12 + Int(length)) == maskedCRC(data) else {
        throw DLPError.data("\(source): bad data CRC at byte \(i)")
      }
      records.append(data)
      i += 16 + Int(length)
    }
    return records
  }

  public static func maskedCRC(_ data: [UInt8]) -> UInt32 {
    let crc = crc32c(data)
    return ((crc >> 15) | (crc << 17)) &+ 0xa282_ead8
  }

  static let table: [UInt32] = (0..<256).map { n -> UInt32 in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 != 0 ? 0x82F6_3B78 ^ (c >> 1) : c >> 1 }
    return c
  }

  /// CRC-32C (the Castagnoli polynomial, reflected), as TensorFlow's crc32c::Value.
  public static func crc32c(_ data: [UInt8]) -> UInt32 {
    var crc: UInt32 = 0xFFFF_FFFF
    for b in data { crc = table[Int((crc ^ UInt32(b)) & 0xFF)] ^ (crc >> 8) }
    return crc ^ 0xFFFF_FFFF
  }
}
