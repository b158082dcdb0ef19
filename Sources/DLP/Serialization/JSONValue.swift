import Foundation

/// A JSON document as a value: what Keras configs, compile settings and reports are made of.
public enum JSONValue: Sendable, Equatable {
  case null
  case bool(Bool)
  case number(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  /// Parses UTF-8 JSON text; malformed text is a configuration error naming `source` and the
  /// byte offset.
  public static func parse(_ data: Data, source: String = "JSON") throws -> JSONValue {
    var parser = JSONParser(bytes: [UInt8](data), source: source)
    return try parser.parseDocument()
  }

  public static func parse(_ text: String, source: String = "JSON") throws -> JSONValue {
    try parse(Data(text.utf8), source: source)
  }

  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  public var string: String? { if case .string(let s) = self { return s } else { return nil } }
  public var double: Double? { if case .number(let n) = self { return n } else { return nil } }
  public var bool: Bool? { if case .bool(let b) = self { return b } else { return nil } }
  public var array: [JSONValue]? { if case .array(let a) = self { return a } else { return nil } }
  public var object: [String: JSONValue]? { if case .object(let o) = self { return o } else { return nil } }
  public var isNull: Bool { self == .null }

  /// An integer value, if this is a number with no fractional part.
  public var int: Int? {
    guard let d = double, d.rounded() == d, abs(d) < 1e15 else { return nil }
    return Int(d)
  }

  /// Serialises with sorted keys; `pretty` indents by two spaces.
  public func serialized(pretty: Bool = false) -> String {
    var out = ""
    write(to: &out, pretty: pretty, indent: 0)
    return out
  }

  private func write(to out: inout String, pretty: Bool, indent: Int) {
    let nl = pretty ? "\n" : ""
    let pad = { (n: Int) in pretty ? String(repeating: " ", count: n * 2) : "" }
    switch self {
    case .null: out += "null"
    case .bool(let b): out += b ? "true" : "false"
    case .number(let n):
      if !n.isFinite {
        out += "null"  // JSON has no NaN/inf; reports say null (Python writes NaN, not JSON)
      } else if n.rounded() == n && abs(n) < 1e15 {
        out += String(Int(n))
      } else {
        out += "\(n)"
      }
    case .string(let s): JSONValue.escape(s, into: &out)
    case .array(let a):
      if a.isEmpty { out += "[]"; return }
      out += "[" + nl
      for (i, v) in a.enumerated() {
        out += pad(indent + 1)
        v.write(to: &out, pretty: pretty, indent: indent + 1)
        out += (i + 1 < a.count ? (pretty ? "," : ", ") : "") + nl
      }
      out += pad(indent) + "]"
    case .object(let o):
      if o.isEmpty { out += "{}"; return }
      out += "{" + nl
      for (i, k) in o.keys.sorted().enumerated() {
        out += pad(indent + 1)
        JSONValue.escape(k, into: &out)
        out += ": "
        o[k]!.write(to: &out, pretty: pretty, indent: indent + 1)
        out += (i + 1 < o.count ? (pretty ? "," : ", ") : "") + nl
      }
      out += pad(indent) + "}"
    }
  }

  private static func escape(_ s: String, into out: inout String) {
    out += "\""
    for u in s.unicodeScalars {
      switch u {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
      }
    }
    out += "\""
  }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByFloatLiteral,
  ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
  public init(stringLiteral value: String) { self = .string(value) }
  public init(integerLiteral value: Int) { self = .number(Double(value)) }
  public init(floatLiteral value: Double) { self = .number(value) }
  public init(booleanLiteral value: Bool) { self = .bool(value) }
  public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
  public init(dictionaryLiteral elements: (String, JSONValue)...) {
    self = .object(Dictionary(elements, uniquingKeysWith: { $1 }))
  }
  public init(nilLiteral: ()) { self = .null }
}

extension JSONValue {
  public init(_ d: Double) { self = .number(d) }
  public init(_ f: Float) { self = .number(Double(f)) }
  public init(_ i: Int) { self = .number(Double(i)) }
  public init(_ s: String) { self = .string(s) }
  public init(_ values: [Double]) { self = .array(values.map { .number($0) }) }
  /// A Keras shape with the batch axis first as `null`.
  public static func batchShape(_ shape: [Int]) -> JSONValue { .array([.null] + shape.map { .number(Double($0)) }) }
}

