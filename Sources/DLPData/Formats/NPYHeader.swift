import DLPTensor

/// The header of a `.npy` file: a Python dict literal such as
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (60000, 28, 28), }`.
///
/// Parsed with a tiny literal parser (strings, booleans, tuples of integers), never evaluated.
struct NPYHeader: Equatable {
  /// The numpy type string, e.g. `<f4` or `|O`.
  var descr: String
  var fortranOrder: Bool
  var shape: [Int]

  static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // "\x93NUMPY"

  /// Reads the magic, version, header length and header dict; leaves `reader` at the data.
  static func read(_ reader: inout ByteReader) throws -> NPYHeader {
    let magic = try reader.take(6, "npy magic")
    guard Array(magic) == NPYHeader.magic else {
      throw reader.failure("not a .npy file (missing \\x93NUMPY magic)")
    }
    let major = try reader.u8("npy version")
    _ = try reader.u8("npy version")
    let length: Int
    switch major {
    case 1: length = try reader.u16("npy header length")
    case 2, 3: length = try reader.u32("npy header length")
    default: throw reader.failure("unsupported .npy format version \(major)")
    }
    let text = String(decoding: try reader.take(length, "npy header"), as: UTF8.self)
    var parser = LiteralParser(text: Array(text.unicodeScalars), source: reader.source)
    return try parser.parseHeader()
  }

  /// The header bytes numpy itself writes (format 1.0): the dict padded with spaces and a newline
  /// so that the data starts on a 64-byte boundary.
  func encoded() -> [UInt8] {
    let shapeText: String
    switch shape.count {
    case 0: shapeText = "()"
    case 1: shapeText = "(\(shape[0]),)"
    default: shapeText = "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }
    let order = fortranOrder ? "True" : "False"
    var dict = Array(
      "{'descr': '\(descr)', 'fortran_order': \(order), 'shape': \(shapeText), }".utf8)
    let unpadded = NPYHeader.magic.count + 2 + 2 + dict.count + 1
    dict += [UInt8](repeating: 0x20, count: (64 - unpadded % 64) % 64)
    dict.append(0x0A)
    var out = NPYHeader.magic + [1, 0]
    out += [UInt8(dict.count & 0xFF), UInt8(dict.count >> 8)]
    return out + dict
  }
}

/// A recursive-descent parser for the few Python literals a .npy header contains.
private struct LiteralParser {
  enum Value {
    case string(String)
    case bool(Bool)
    case tuple([Int])
  }

  let text: [Unicode.Scalar]
  let source: String
  var position = 0

  init(text: [Unicode.Scalar], source: String) {
    self.text = text
    self.source = source
  }

  func failure(_ message: String) -> DLPError {
    .data(
      "\(source): malformed .npy header: \(message) in \(String(String.UnicodeScalarView(text)).debugDescription)"
    )
  }

  mutating func skipSpace() {
    while position < text.count, text[position].properties.isWhitespace { position += 1 }
  }

  mutating func expect(_ c: Unicode.Scalar) throws {
    skipSpace()
    guard position < text.count, text[position] == c else { throw failure("expected '\(c)'") }
    position += 1
  }

  mutating func peek() -> Unicode.Scalar? {
    skipSpace()
    return position < text.count ? text[position] : nil
  }

  mutating func parseHeader() throws -> NPYHeader {
    var fields: [String: Value] = [:]
    try expect("{")
    while peek() != "}" {
      guard case .string(let key) = try parseValue() else { throw failure("dict key not a string") }
      try expect(":")
      fields[key] = try parseValue()
      if peek() == "," { position += 1 } else { break }
    }
    try expect("}")
    guard case .string(let descr) = fields["descr"] else {
      if fields["descr"] == nil { throw failure("no 'descr'") }
      throw DLPError.data(
        "\(source): structured numpy dtypes are not supported (only plain arrays)")
    }
    guard case .bool(let fortran) = fields["fortran_order"] else {
      throw failure("no boolean 'fortran_order'")
    }
    guard case .tuple(let shape) = fields["shape"] else { throw failure("no tuple 'shape'") }
    return NPYHeader(descr: descr, fortranOrder: fortran, shape: shape)
  }

  mutating func parseValue() throws -> Value {
    guard let c = peek() else { throw failure("unexpected end") }
    switch c {
    case "'", "\"":
      position += 1
      let start = position
      while position < text.count, text[position] != c { position += 1 }
      guard position < text.count else { throw failure("unterminated string") }
      defer { position += 1 }
      return .string(String(String.UnicodeScalarView(text[start..<position])))
    case "(":
      position += 1
      var items: [Int] = []
      while peek() != ")" {
        items.append(try parseInt())
        if peek() == "," { position += 1 } else { break }
      }
      try expect(")")
      return .tuple(items)
    case "[":
      // A list descr is a structured dtype: report it as such.
      throw DLPError.data(
        "\(source): structured numpy dtypes are not supported (only plain arrays)")
    default:
      for (word, value) in [("True", true), ("False", false)] {
        let scalars = Array(word.unicodeScalars)
        if position + scalars.count <= text.count,
          Array(text[position..<position + scalars.count]) == scalars
        {
          position += scalars.count
          return .bool(value)
        }
      }
      throw failure("unexpected character '\(c)'")
    }
  }

  mutating func parseInt() throws -> Int {
    skipSpace()
    var value = 0
    let start = position
    while position < text.count, ("0"..."9").contains(text[position]) {
      let digit = Int(text[position].value - 48)
      let (v1, o1) = value.multipliedReportingOverflow(by: 10)
      let (v2, o2) = v1.addingReportingOverflow(digit)
      guard !o1, !o2 else { throw failure("extent too large") }
      value = v2
      position += 1
    }
    guard position > start else { throw failure("expected an integer") }
    // Python 2's numpy wrote long extents with an `L` suffix, e.g. (506L, 13L).
    if position < text.count, text[position] == "L" { position += 1 }
    return value
  }
}
