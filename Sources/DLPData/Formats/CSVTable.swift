import DLPTensor
import Foundation

/// A numeric CSV table: one header row of column names, then rows of numbers.
///
/// Fields may be quoted (`"1,5"` is one field; `""` inside quotes is a quote); blank lines are
/// skipped; a cell that is not a number is an error naming its line and column, because silently
/// turning it into 0 or NaN would corrupt training without a trace.
public struct CSVTable: Sendable, Equatable {
  public let columns: [String]
  public let rowCount: Int
  /// Row-major values, `rowCount * columns.count`.
  public let values: [Float]
  /// Columns left out as text (with `skippingTextColumns`): a timeseries' timestamps.
  public private(set) var skippedColumns: [String] = []
  /// The cells in double precision (with `keepingDoubles`), as numpy reads a CSV: statistics
  /// of a timeseries are then those of the book's code to the last float bit.
  public private(set) var doubleValues: [Double]? = nil

  /// `skippingTextColumns`: a column whose first cell is not a number (Jena's "Date Time") is
  /// left out rather than refused; every other cell must still be a number.
  public init(contentsOf url: URL, skippingTextColumns: Bool = false, keepingDoubles: Bool = false) throws {
    let bytes = try FileIO.readBytes(url)
    try self.init(
      text: String(decoding: bytes, as: UTF8.self), source: url.path, skippingTextColumns: skippingTextColumns,
      keepingDoubles: keepingDoubles)
  }

  public init(text: String, source: String, skippingTextColumns: Bool = false, keepingDoubles: Bool = false) throws {
    var doubles: [Double] = []
    var skip: [Bool]?
    var columns: [String]?
    var values: [Float] = []
    var rows = 0
    var lineNumber = 0
    // "\r\n" is a single Character in Swift, so it is a separator of its own.
    let lines = text.split(omittingEmptySubsequences: false) { $0 == "\n" || $0 == "\r\n" }
    for line in lines {
      lineNumber += 1
      if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
      let fields = try CSVTable.fields(of: line, source: source, line: lineNumber)
      guard let header = columns else {
        // A UTF-8 byte-order mark would otherwise become part of the first column's name.
        var names = fields.map { $0.trimmingCharacters(in: .whitespaces) }
        if let first = names.first, first.hasPrefix("\u{FEFF}") {
          names[0] = String(first.dropFirst())
        }
        guard Set(names).count == names.count else {
          throw DLPError.data("\(source): line \(lineNumber): duplicate column names in \(names)")
        }
        columns = names
        continue
      }
      guard fields.count == header.count else {
        throw DLPError.data(
          "\(source): line \(lineNumber) has \(fields.count) cells, the header has \(header.count)")
      }
      if skip == nil {
        skip = fields.map { skippingTextColumns && Float($0.trimmingCharacters(in: .whitespaces)) == nil }
      }
      for (k, (column, field)) in zip(header, fields).enumerated() where !skip![k] {
        let cell = field.trimmingCharacters(in: .whitespaces)
        if keepingDoubles, let d = Double(cell) { doubles.append(d) }
        guard let value = Float(cell) else {
          throw DLPError.data(
            "\(source): row \(rows + 1) (line \(lineNumber)), column '\(column)': "
              + (cell.isEmpty ? "empty cell" : "'\(cell)' is not a number"))
        }
        values.append(value)
      }
      rows += 1
    }
    guard let header = columns else { throw DLPError.data("\(source): empty CSV file (no header)") }
    let skipped = skip ?? header.map { _ in false }
    self.columns = header.indices.filter { !skipped[$0] }.map { header[$0] }
    self.skippedColumns = header.indices.filter { skipped[$0] }.map { header[$0] }
    if keepingDoubles { self.doubleValues = doubles }
    self.rowCount = rows
    self.values = values
  }

  /// Splits a line into fields, honouring double quotes.
  static func fields(of line: Substring, source: String, line number: Int) throws -> [String] {
    var fields: [String] = []
    var current = ""
    var inQuotes = false
    var iterator = line.makeIterator()
    var pending: Character? = nil
    while let c = pending ?? iterator.next() {
      pending = nil
      if inQuotes {
        if c == "\"" {
          let next = iterator.next()
          if next == "\"" {
            current.append("\"")
          } else {
            inQuotes = false
            pending = next
          }
        } else {
          current.append(c)
        }
      } else if c == "\"" {
        inQuotes = true
      } else if c == "," {
        fields.append(current)
        current = ""
      } else {
        current.append(c)
      }
    }
    guard !inQuotes else { throw DLPError.data("\(source): line \(number): unterminated quote") }
    fields.append(current)
    return fields
  }

  /// Features and target: `target` names the target column (default: the last one); every other
  /// column becomes a feature. x is `[rows, columns - 1]`, y is `[rows]`.
  public func split(target: String? = nil) throws -> LabeledData {
    let targetIndex: Int
    if let target {
      guard let i = columns.firstIndex(of: target) else {
        throw DLPError.data(
          "no target column '\(target)' (columns: \(columns.joined(separator: ", ")))")
      }
      targetIndex = i
    } else {
      targetIndex = columns.count - 1
    }
    let width = columns.count
    guard width >= 2 else {
      throw DLPError.data("a CSV needs a feature column and a target column")
    }
    var x = [Float](repeating: 0, count: rowCount * (width - 1))
    var y = [Float](repeating: 0, count: rowCount)
    for r in 0..<rowCount {
      var k = r * (width - 1)
      for c in 0..<width {
        let v = values[r * width + c]
        if c == targetIndex {
          y[r] = v
        } else {
          x[k] = v
          k += 1
        }
      }
    }
    return LabeledData(
      x: try makeTensor([rowCount, width - 1], x), y: try makeTensor([rowCount], y))
  }
}
