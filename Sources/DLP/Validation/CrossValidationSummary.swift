/// Mean and standard deviation over folds of the final validation metrics, and the per-epoch
/// mean of every history key (the curve the book plots).
public struct CrossValidationSummary: Sendable {
  public let results: [FoldResult]
  /// Mean over folds of each final validation metric present in every fold.
  public let mean: [String: Double]
  /// Population standard deviation (numpy's default, ddof=0) over folds.
  public let std: [String: Double]
  /// Per epoch, the mean over folds of each history key present in every fold. When a fold
  /// stopped early, the curves end at the shortest fold's last epoch.
  public let meanHistory: [String: [Double]]

  public init(_ results: [FoldResult]) {
    self.results = results
    var mean: [String: Double] = [:]
    var std: [String: Double] = [:]
    var history: [String: [Double]] = [:]
    if let first = results.first {
      let n = Double(results.count)
      for key in first.evaluation.keys where results.allSatisfy({ $0.evaluation[key] != nil }) {
        let values = results.map { $0.evaluation[key]! }
        let m = values.reduce(0, +) / n
        mean[key] = m
        std[key] = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / n).squareRoot()
      }
      for key in first.history.history.keys
      where results.allSatisfy({ $0.history.history[key] != nil }) {
        let curves = results.map { $0.history.history[key]! }
        let epochs = curves.map(\.count).min() ?? 0
        history[key] = (0..<epochs).map { e in curves.reduce(0) { $0 + $1[e] } / n }
      }
    }
    self.mean = mean
    self.std = std
    self.meanHistory = history
  }

  /// `{"folds": [...], "mean": {...}, "std": {...}, "mean_history": {...}}`.
  public var json: [String: JSONValue] {
    [
      "folds": .array(results.map(\.json)), "mean": .object(mean.mapValues { JSONValue($0) }),
      "std": .object(std.mapValues { JSONValue($0) }),
      "mean_history": .object(meanHistory.mapValues { JSONValue($0) }),
    ]
  }

  /// `mae 2.3100 ± 0.1200 - loss 10.1000 ± 1.3000`, keys sorted.
  public var description: String {
    mean.keys.sorted().map { k in "\(k) \(format(mean[k]!)) ± \(format(std[k] ?? 0))" }.joined(
      separator: " - ")
  }

  private func format(_ x: Double) -> String {
    guard x.isFinite else { return "\(x)" }
    let scaled = (x * 10000).rounded() / 10000
    var s = "\(scaled)"
    if let dot = s.firstIndex(of: ".") {
      let decimals = s.distance(from: dot, to: s.endIndex) - 1
      if decimals < 4 { s += String(repeating: "0", count: 4 - decimals) }
    }
    return s
  }
}
