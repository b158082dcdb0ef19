import DLP
import Foundation

/// The figures Deep Learning with Python draws from a training history:
/// - a `dlp train` report: "Training and validation loss" (training as dots, validation as a
///   line, per epoch) and the same for its metric (accuracy, else MAE, else the first other);
/// - a `dlp kfold` report (it has `mean_history`): the mean validation MAE per epoch over the
///   folds, and the same with the first 10 epochs dropped and smoothed by an exponential moving
///   average of factor 0.9 (the book's `smooth_curve`), where the trend is readable.
public enum ReportCurves {
  public static func figure(report: JSONValue, source: String) throws -> Figure {
    if let mean = report["mean_history"]?.object { return try kfold(mean, source: source) }
    guard let history = report["history"]?.object else {
      throw DLPError.data("\(source) has no \"history\" (a dlp train report) or \"mean_history\" (a dlp kfold report)")
    }
    let h = try series(history, source: source)
    guard let loss = h["loss"] else { throw DLPError.data("\(source): the history has no \"loss\"") }
    var panels = [
      pair("loss", train: loss, validation: h["val_loss"], title: "Training and validation loss", yLabel: "Loss")
    ]
    let metrics = h.keys.filter {
      !$0.hasPrefix("val_") && $0 != "loss" && $0 != "learning_rate" && !$0.hasSuffix("_loss")
    }.sorted()
    if let m = ["accuracy", "acc", "mae"].first(where: metrics.contains) ?? metrics.first {
      let name = m == "mae" ? "MAE" : m == "acc" ? "accuracy" : m.replacingOccurrences(of: "_", with: " ")
      panels.append(
        pair(
          m, train: h[m]!, validation: h["val_" + m], title: "Training and validation \(name)",
          yLabel: m == "mae" ? "MAE" : name.prefix(1).uppercased() + name.dropFirst()))
    }
    return Figure(panels: panels)
  }

  static func pair(_ key: String, train: [Double], validation: [Double]?, title: String, yLabel: String) -> Panel {
    let label = key == "mae" ? "MAE" : key
    var series = [Series(name: "Training \(label)", points: epochs(train), style: .dots)]
    if let v = validation { series.append(Series(name: "Validation \(label)", points: epochs(v), style: .line)) }
    return Panel(title: title, xLabel: "Epochs", yLabel: yLabel, series: series)
  }

  static func kfold(_ mean: [String: JSONValue], source: String) throws -> Figure {
    let h = try series(mean, source: source)
    let key =
      h["val_mae"] != nil
      ? "val_mae" : h.keys.filter { $0.hasPrefix("val_") && $0 != "val_loss" }.sorted().first ?? "val_loss"
    guard let values = h[key], !values.isEmpty else {
      throw DLPError.data("\(source): mean_history has no validation series to plot")
    }
    let name = key == "val_mae" ? "MAE" : String(key.dropFirst(4))
    let raw = Panel(
      title: "Validation \(name) by epoch", xLabel: "Epochs", yLabel: "Validation \(name)",
      series: [Series(name: "Mean over folds", points: epochs(values), style: .line)])
    // The book drops the first 10 epochs (their scale hides the rest) and smooths the others.
    let dropped = values.count > 10 ? 10 : 0
    let smoothed = smooth(Array(values.dropFirst(dropped)))
    let tail = Panel(
      title: dropped > 0 ? "Smoothed, from epoch \(dropped + 1)" : "Smoothed", xLabel: "Epochs",
      yLabel: "Validation \(name)",
      series: [
        Series(
          name: "EMA 0.9", points: smoothed.enumerated().map { (Double($0.offset + dropped + 1), $0.element) },
          style: .line)
      ])
    return Figure(panels: [raw, tail])
  }

  /// The book's `smooth_curve`: each point replaced by previous * factor + point * (1 - factor).
  public static func smooth(_ points: [Double], factor: Double = 0.9) -> [Double] {
    var out: [Double] = []
    for p in points { out.append(out.last.map { $0 * factor + p * (1 - factor) } ?? p) }
    return out
  }

  static func epochs(_ values: [Double]) -> [(x: Double, y: Double)] {
    values.enumerated().map { (Double($0.offset + 1), $0.element) }
  }

  /// The history's series; a null (a NaN or infinite value in a JSON report) stays a gap.
  static func series(_ h: [String: JSONValue], source: String) throws -> [String: [Double]] {
    try h.mapValues { v in
      guard let a = v.array else {
        throw DLPError.data("\(source): a history entry is not a list: \(v.serialized().prefix(80))")
      }
      return a.map { $0.double ?? .nan }
    }
  }
}
