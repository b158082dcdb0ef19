import Foundation

/// A strict JSON parser (RFC 8259) with a nesting limit, so hostile or corrupt documents give an
/// error with a byte offset instead of a crash or a stack overflow.
struct JSONParser {
  let bytes: [UInt8]
  let source: String
  var pos = 0
  var depth = 0
  static let maxDepth = 512

  init(bytes: [UInt8], source: String) {
    self.bytes = bytes
    self.source = source
  }

  func fail(_ what: String) -> DLPError {
    .config("\(source) is not valid JSON: \(what) at byte \(pos)")
  }

  mutating func parseDocument() throws -> JSONValue {
    let v = try parseValue()
    skipSpace()
    guard pos == bytes.count else { throw fail("unexpected trailing characters") }
    return v
  }

  mutating func skipSpace() {
    while pos < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[pos]) { pos += 1 }
  }

  mutating func parseValue() throws -> JSONValue {
    skipSpace()
    guard pos < bytes.count else { throw fail("unexpected end of input") }
    switch bytes[pos] {
    case UInt8(ascii: "{"): return try parseObject()
    case UInt8(ascii: "["): return try parseArray()
    case UInt8(ascii: "\""): return .string(try parseString())
    case UInt8(ascii: "t"): try literal("true"); return .bool(true)
    case UInt8(ascii: "f"): try literal("false"); return .bool(false)
    case UInt8(ascii: "n"): try literal("null"); return .null
    // Python's json writes NaN/Infinity; accept them so Keras histories load.
    case UInt8(ascii: "N"): try literal("NaN"); return .number(.nan)
    case UInt8(ascii: "I"): try literal("Infinity"); return .number(.infinity)
    default: return .number(try parseNumber())
    }
  }

  mutating func literal(_ word: String) throws {
    let w = Array(word.utf8)
    guard pos + w.count <= bytes.count, Array(bytes[pos..<(pos + w.count)]) == w else { throw fail("invalid literal") }
    pos += w.count
  }

  mutating func enter() throws {
    depth += 1
    guard depth <= JSONParser.maxDepth else { throw fail("nesting deeper than \(JSONParser.maxDepth)") }
  }

  mutating func parseObject() throws -> JSONValue {
    try enter()
    defer { depth -= 1 }
    pos += 1
    var o: [String: JSONValue] = [:]
    skipSpace()
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(o) }
    while true {
      skipSpace()
      guard pos < bytes.count, bytes[pos] == UInt8(ascii: "\"") else { throw fail("expected a key") }
      let k = try parseString()
      skipSpace()
      guard pos < bytes.count, bytes[pos] == UInt8(ascii: ":") else { throw fail("expected ':'") }
      pos += 1
      o[k] = try parseValue()
      skipSpace()
      guard pos < bytes.count else { throw fail("unterminated object") }
      if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
      if bytes[pos] == UInt8(ascii: "}") { pos += 1; return .object(o) }
      throw fail("expected ',' or '}'")
    }
  }

  mutating func parseArray() throws -> JSONValue {
    try enter()
    defer { depth -= 1 }
    pos += 1
    var a: [JSONValue] = []
    skipSpace()
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(a) }
    while true {
      a.append(try parseValue())
      skipSpace()
      guard pos < bytes.count else { throw fail("unterminated array") }
      if bytes[pos] == UInt8(ascii: ",") { pos += 1; continue }
      if bytes[pos] == UInt8(ascii: "]") { pos += 1; return .array(a) }
      throw fail("expected ',' or ']'")
    }
  }

  mutating func parseNumber() throws -> Double {
    let start = pos
    if pos < bytes.count, bytes[pos] == UInt8(ascii: "-") {
      pos += 1
      if pos < bytes.count, bytes[pos] == UInt8(ascii: "I") { try literal("Infinity"); return -.infinity }
    }
    while pos < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[pos]) || [UInt8(ascii: "."), UInt8(ascii: "e"), UInt8(ascii: "E"), UInt8(ascii: "+"), UInt8(ascii: "-")].contains(bytes[pos]) {
      pos += 1
    }
    guard pos > start, let text = String(bytes: bytes[start..<pos], encoding: .utf8), let d = Double(text) else {
      pos = start
      throw fail("invalid value")
    }
    return d
  }

  mutating func hex4() throws -> UInt32 {
    guard pos + 4 <= bytes.count, let s = String(bytes: bytes[pos..<(pos + 4)], encoding: .ascii), let v = UInt32(s, radix: 16) else {
      throw fail("invalid \\u escape")
    }
    pos += 4
    return v
  }

  mutating func parseString() throws -> String {
    pos += 1
    var out = [UInt8]()
    while true {
      guard pos < bytes.count else { throw fail("unterminated string") }
      let b = bytes[pos]
      pos += 1
      if b == UInt8(ascii: "\"") { break }
      if b < 0x20 { throw fail("control character in string") }
      guard b == UInt8(ascii: "\\") else { out.append(b); continue }
      guard pos < bytes.count else { throw fail("unterminated escape") }
      let e = bytes[pos]
      pos += 1
      switch e {
      case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
      case UInt8(ascii: "b"): out.append(0x08)
      case UInt8(ascii: "f"): out.append(0x0C)
      case UInt8(ascii: "n"): out.append(0x0A)
      case UInt8(ascii: "r"): out.append(0x0D)
      case UInt8(ascii: "t"): out.append(0x09)
      case UInt8(ascii: "u"):
        var code = try hex4()
        if (0xD800..<0xDC00).contains(code), pos + 6 <= bytes.count, bytes[pos] == UInt8(ascii: "\\"), bytes[pos + 1] == UInt8(ascii: "u") {
          pos += 2
          let low = try hex4()
          code = 0x10000 + ((code - 0xD800) << 10) + (low &- 0xDC00) & 0x3FF
        }
        out.append(contentsOf: Array(String(Character(Unicode.Scalar(code) ?? "\u{FFFD}")).utf8))
      default: throw fail("invalid escape")
      }
    }
    guard let s = String(bytes: out, encoding: .utf8) else { throw fail("invalid UTF-8 in string") }
    return s
  }
}
