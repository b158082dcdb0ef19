import DLPTensor

/// A bounds-checked cursor over a byte array.
///
/// Every binary parser in this module reads through this type, so a truncated or corrupt file
/// becomes a `DLPError.data` naming the file and the offset instead of an out-of-range trap.
struct ByteReader {
  let bytes: [UInt8]
  /// The file (or archive entry) the bytes came from, for error messages.
  let source: String
  private(set) var offset: Int

  init(_ bytes: [UInt8], source: String, offset: Int = 0) {
    self.bytes = bytes
    self.source = source
    self.offset = offset
  }

  var remaining: Int { bytes.count - offset }
  var isAtEnd: Bool { offset >= bytes.count }

  func failure(_ message: String) -> DLPError {
    .data("\(source): \(message) (at byte \(offset))")
  }

  /// Throws unless `count` more bytes are available.
  func require(_ count: Int, _ what: @autoclosure () -> String) throws {
    guard count >= 0, count <= remaining else {
      throw failure("truncated: \(what()) needs \(count) bytes, \(max(remaining, 0)) left")
    }
  }

  mutating func seek(to position: Int) throws {
    guard position >= 0, position <= bytes.count else {
      throw failure("offset \(position) is outside the \(bytes.count)-byte file")
    }
    offset = position
  }

  mutating func skip(_ count: Int, _ what: @autoclosure () -> String = "data") throws {
    try require(count, what())
    offset += count
  }

  mutating func u8(_ what: @autoclosure () -> String = "byte") throws -> UInt8 {
    try require(1, what())
    defer { offset += 1 }
    return bytes[offset]
  }

  /// An unsigned little-endian integer of `width` bytes (at most 8).
  mutating func littleEndian(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
    try require(width, what())
    var value: UInt64 = 0
    for i in stride(from: width - 1, through: 0, by: -1) {
      value = value << 8 | UInt64(bytes[offset + i])
    }
    offset += width
    return value
  }

  /// An unsigned big-endian integer of `width` bytes (at most 8).
  mutating func bigEndian(_ width: Int, _ what: @autoclosure () -> String) throws -> UInt64 {
    try require(width, what())
    var value: UInt64 = 0
    for i in 0..<width { value = value << 8 | UInt64(bytes[offset + i]) }
    offset += width
    return value
  }

  mutating func u16(_ what: @autoclosure () -> String) throws -> Int {
    Int(try littleEndian(2, what()))
  }

  mutating func u32(_ what: @autoclosure () -> String) throws -> Int {
    Int(try littleEndian(4, what()))
  }

  mutating func take(_ count: Int, _ what: @autoclosure () -> String) throws -> ArraySlice<UInt8> {
    try require(count, what())
    defer { offset += count }
    return bytes[offset..<offset + count]
  }
}

extension Array where Element == Int {
  /// The product of the extents, or nil when it overflows: sizes read from a file are untrusted.
  var checkedProduct: Int? {
    var product = 1
    for extent in self {
      guard extent >= 0 else { return nil }
      let (p, overflow) = product.multipliedReportingOverflow(by: extent)
      if overflow { return nil }
      product = p
    }
    return product
  }
}
