/// The `config` of a serialised Keras object (a loss, a metric, a schedule), read with the
/// checks Keras's constructors make: an argument the class does not have is refused by name
/// (Keras's `cls(**config)` raises TypeError), a value of the wrong kind is refused naming it.
struct KerasArguments {
  let values: [String: JSONValue]
  let context: String

  init(_ config: JSONValue?, context: String) throws {
    self.context = context
    guard let config, !config.isNull else {
      values = [:]
      return
    }
    guard let o = config.object else {
      throw DLPError.config("\(context): 'config' must be an object, found \(config.serialized())")
    }
    values = o
  }

  /// Refuses any argument not in `known`.
  func allow(_ known: Set<String>) throws {
    if let bad = values.keys.sorted().first(where: { !known.contains($0) }) {
      throw DLPError.config(
        "\(context): unexpected argument '\(bad)' = \(values[bad]!.serialized()) (it takes \(known.sorted().joined(separator: ", ")))"
      )
    }
  }

  func present(_ key: String) -> Bool { values[key].map { !$0.isNull } ?? false }

  func float(_ key: String, default d: Float? = nil) throws -> Float {
    guard let v = values[key], !v.isNull else {
      guard let d else { throw DLPError.config("\(context): missing argument '\(key)'") }
      return d
    }
    guard let x = v.double else {
      throw DLPError.config("\(context): '\(key)' must be a number, found \(v.serialized())")
    }
    return Float(x)
  }

  func optionalFloat(_ key: String) throws -> Float? { present(key) ? try float(key) : nil }

  func int(_ key: String, default d: Int? = nil) throws -> Int {
    guard let v = values[key], !v.isNull else {
      guard let d else { throw DLPError.config("\(context): missing argument '\(key)'") }
      return d
    }
    guard let x = v.double, x == x.rounded(), Swift.abs(x) < 1e15 else {
      throw DLPError.config("\(context): '\(key)' must be an integer, found \(v.serialized())")
    }
    return Int(x)
  }

  func bool(_ key: String, default d: Bool) throws -> Bool {
    guard let v = values[key], !v.isNull else { return d }
    guard let b = v.bool else {
      throw DLPError.config("\(context): '\(key)' must be true or false, found \(v.serialized())")
    }
    return b
  }

  func string(_ key: String, default d: String) throws -> String {
    guard let v = values[key], !v.isNull else { return d }
    guard let s = v.string else {
      throw DLPError.config("\(context): '\(key)' must be a string, found \(v.serialized())")
    }
    return s
  }

  func floats(_ key: String) throws -> [Float] {
    guard let a = values[key]?.array else { throw DLPError.config("\(context): '\(key)' must be a list of numbers") }
    return try a.map { v in
      guard let x = v.double else {
        throw DLPError.config("\(context): '\(key)' must hold numbers, found \(v.serialized())")
      }
      return Float(x)
    }
  }

  /// Refuses `key` unless it is absent, null or one of `allowed` (an argument DLP only supports
  /// at its default).
  func requireDefault(_ key: String, _ allowed: [JSONValue], why: String = "is not supported yet") throws {
    guard let v = values[key], !v.isNull, !allowed.contains(v) else { return }
    throw DLPError.config("\(context): '\(key)' = \(v.serialized()) \(why)")
  }
}
