import Foundation

/// Python's `str.format` for the file names Keras's ModelCheckpoint builds
/// (`"ckpt-{epoch:02d}-{val_loss:.2f}.keras".format(epoch=epoch + 1, **logs)`): `{name}` and
/// `{name:spec}` with the format-spec mini-language ([[fill]align][sign][0][width][,][.precision]
/// [type], types d, f, F, e, E, g, G, % and none), `{{` and `}}` for braces.
public enum PythonFormat {
  public enum Value: Sendable {
    case int(Int)
    case double(Double)
  }

  public static func format(_ template: String, _ values: [String: Value]) throws -> String {
    var out = ""
    var chars = Array(template)
    var i = 0
    while i < chars.count {
      let c = chars[i]
      if c == "{" {
        if i + 1 < chars.count && chars[i + 1] == "{" {
          out.append("{")
          i += 2
          continue
        }
        guard let close = chars[(i + 1)...].firstIndex(of: "}") else {
          throw DLPError.config(
            "Failed to format this callback filepath: \"\(template)\". Reason: Single '{' encountered in format string")
        }
        let field = String(chars[(i + 1)..<close])
        let (name, spec) =
          field.firstIndex(of: ":").map { (String(field[..<$0]), String(field[field.index(after: $0)...])) }
          ?? (field, "")
        guard let value = values[name] else {
          throw DLPError.config(
            "Failed to format this callback filepath: \"\(template)\". Reason: no value named '\(name)' (there are \(values.keys.sorted().joined(separator: ", ")))"
          )
        }
        out += try formatValue(value, spec: spec, template: template)
        i = close + 1
      } else if c == "}" {
        guard i + 1 < chars.count && chars[i + 1] == "}" else {
          throw DLPError.config(
            "Failed to format this callback filepath: \"\(template)\". Reason: Single '}' encountered in format string")
        }
        out.append("}")
        i += 2
      } else {
        out.append(c)
        i += 1
      }
    }
    chars = []
    return out
  }

  static func formatValue(_ value: Value, spec: String, template: String) throws -> String {
    var s = Array(spec)
    func fail(_ why: String) -> DLPError {
      .config("Failed to format this callback filepath: \"\(template)\". Reason: \(why)")
    }
    var fill: Character = " "
    var align: Character?
    if s.count >= 2, "<>=^".contains(s[1]) {
      (fill, align) = (s[0], s[1])
      s.removeFirst(2)
    } else if let f = s.first, "<>=^".contains(f) {
      align = f
      s.removeFirst()
    }
    var sign: Character = "-"
    if let f = s.first, "+- ".contains(f) {
      sign = f
      s.removeFirst()
    }
    if s.first == "0" {
      if align == nil { (fill, align) = ("0", "=") }
      s.removeFirst()
    }
    var width = 0
    while let f = s.first, let d = f.wholeNumberValue {
      width = width * 10 + d
      s.removeFirst()
    }
    var grouping = false
    if s.first == "," {
      grouping = true
      s.removeFirst()
    }
    var precision: Int?
    if s.first == "." {
      s.removeFirst()
      var p = 0
      var any = false
      while let f = s.first, let d = f.wholeNumberValue {
        p = p * 10 + d
        any = true
        s.removeFirst()
      }
      guard any else { throw fail("Format specifier missing precision") }
      precision = p
    }
    guard s.count <= 1 else { throw fail("Invalid format specifier '\(spec)'") }
    let type = s.first

    var negative = false
    var body: String
    switch (value, type) {
    case (.int(let n), nil), (.int(let n), "d"):
      guard precision == nil else { throw fail("Precision not allowed in integer format specifier") }
      negative = n < 0
      body = String(n.magnitude)
      if grouping { body = group(body) }
    case (.double, "d"):
      throw fail("Unknown format code 'd' for object of type 'float'")
    case (_, let t):
      let x: Double
      switch value {
      case .int(let n): x = Double(n)
      case .double(let d): x = d
      }
      negative = x.sign == .minus && !x.isNaN
      let m = Swift.abs(x)
      switch t {
      case nil:
        if case .int = value {
          body = String(Int(m))
        } else if let p = precision {
          body = String(format: "%.\(Swift.max(p, 1))g", m)
        } else {
          body = "\(m)"  // Python's repr: the shortest string that reads back the same
        }
      case "f", "F": body = String(format: "%.\(precision ?? 6)f", m)
      case "e": body = String(format: "%.\(precision ?? 6)e", m)
      case "E": body = String(format: "%.\(precision ?? 6)E", m)
      case "g": body = String(format: "%.\(Swift.max(precision ?? 6, 1))g", m)
      case "G": body = String(format: "%.\(Swift.max(precision ?? 6, 1))G", m)
      case "%": body = String(format: "%.\(precision ?? 6)f", m * 100) + "%"
      default: throw fail("Unknown format code '\(t!)'")
      }
      if m.isNaN { body = t == "F" || t == "E" || t == "G" ? "NAN" : "nan" }
      if m.isInfinite { body = t == "F" || t == "E" || t == "G" ? "INF" : "inf" }
      if grouping, let dot = body.firstIndex(where: { !$0.isNumber }) {
        body = group(String(body[..<dot])) + body[dot...]
      } else if grouping {
        body = group(body)
      }
    }
    let signText = negative ? "-" : sign == "+" ? "+" : sign == " " ? " " : ""
    let length = signText.count + body.count
    guard width > length else { return signText + body }
    let pad = String(repeating: fill, count: width - length)
    switch align ?? ">" {
    case "<": return signText + body + pad
    case "^":
      let left = String(pad.prefix(pad.count / 2))
      return left + signText + body + String(pad.dropFirst(pad.count / 2))
    case "=": return signText + pad + body
    default: return pad + signText + body
    }
  }

  private static func group(_ digits: String) -> String {
    var out = ""
    for (i, c) in digits.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }
}
