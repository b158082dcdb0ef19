import Foundation

/// Keras's `CSVLogger`: one row per epoch, columns `epoch` (0-based) then the logs' keys sorted
/// as of the first epoch (with `val_` twins added when that epoch had no validation, written
/// `NA`), values as Python's `str(float)`, rows ended by `\r\n` (Python's csv module). The file
/// is rewritten atomically after each epoch, so a reader never sees half a row.
public final class CSVLogger: Callback {
  public let path: String
  public let separator: String
  public let append: Bool
  private var keys: [String]?
  private var text = ""

  public init(path: String, separator: String = ",", append: Bool = false) {
    self.path = path
    self.separator = separator
    self.append = append
  }

  public func onTrainBegin(logs: inout [String: Double]) throws {
    keys = nil
    text = ""
    if append, let data = FileManager.default.contents(atPath: path) {
      text = String(decoding: data, as: UTF8.self)
    }
  }

  public func onEpochEnd(_ epoch: Int, logs: inout [String: Double]) throws {
    if keys == nil {
      var k = logs.keys.sorted()
      if !k.contains(where: { $0.hasPrefix("val_") }) && !k.isEmpty { k += k.map { "val_" + $0 } }
      keys = k
      // Keras writes the header unless it appends to a file that already has a first line.
      if text.isEmpty { text += row(["epoch"] + k) }
    }
    text += row([String(epoch)] + keys!.map { logs[$0].map(Self.pythonString) ?? "NA" })
    try FileIO.writeAtomically(Array(text.utf8), to: URL(fileURLWithPath: path))
  }

  /// Python's `str(float)`: the shortest repr that reads back the same, `nan`, `inf`.
  static func pythonString(_ x: Double) -> String {
    if x.isNaN { return "nan" }
    if x.isInfinite { return x > 0 ? "inf" : "-inf" }
    return "\(x)"
  }

  /// A CSV row as Python's csv.excel dialect writes it.
  func row(_ fields: [String]) -> String {
    fields.map { f in
      f.contains(separator) || f.contains("\"") || f.contains("\n") || f.contains("\r")
        ? "\"" + f.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : f
    }.joined(separator: separator) + "\r\n"
  }
}
