/// The library's error: every failure caused by the user's input (files, configs, shapes, data)
/// surfaces as one of these with a message that says what was wrong and where, so the CLI can
/// print it and exit non-zero instead of trapping.
public enum DLPError: Error, CustomStringConvertible, Equatable {
  /// A dataset file or folder is missing, unreadable or malformed.
  case data(String)
  /// A model, layer, optimizer or loss configuration is malformed or unsupported.
  case config(String)
  /// Shapes of layers, or of a model and its data, do not agree.
  case shape(String)
  /// Training cannot go on (a NaN loss, labels out of range, ...).
  case training(String)
  /// Reading or writing a file failed.
  case io(String)

  public var description: String {
    switch self {
    case .data(let m): return "data error: \(m)"
    case .config(let m): return "configuration error: \(m)"
    case .shape(let m): return "shape error: \(m)"
    case .training(let m): return "training error: \(m)"
    case .io(let m): return "I/O error: \(m)"
    }
  }
}

extension DLPError {
  /// Wraps a tensor error as a shape error.
  public init(_ error: TensorError) { self = .shape(error.description) }
}
