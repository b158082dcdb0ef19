import Foundation

/// Keras's `MonitorCallback`: which quantity a callback watches, whether smaller or larger is
/// better, and what counts as an improvement (`min_delta`).
public struct Monitor: Sendable {
  public enum Mode: String, Sendable { case auto, min, max }

  public let name: String
  public let mode: Mode
  public let minDelta: Double
  /// Resolved at the first epoch's end, as Keras does (`_set_monitor_op`).
  var lessIsBetter: Bool?

  public init(_ name: String = "val_loss", mode: Mode = .auto, minDelta: Double = 0) {
    self.name = name
    self.mode = mode
    self.minDelta = Swift.abs(minDelta)
  }

  /// Resolves `auto`: a loss is minimised; a metric goes the way Keras's metric class says
  /// (accuracy, precision, recall, AUC up; mae, mse down). Anything else cannot be guessed.
  mutating func resolve(model: Model, callback: String) throws {
    guard lessIsBetter == nil else { return }
    switch mode {
    case .min: lessIsBetter = true
    case .max: lessIsBetter = false
    case .auto:
      let metric = name.hasPrefix("val_") ? String(name.dropFirst(4)) : name
      if metric == "loss" {
        lessIsBetter = true
        return
      }
      let heads = model.compiled?.heads ?? []
      let multi = heads.count > 1
      for h in heads {
        for m in h.metrics where (multi ? h.name + "_" + m.name : m.name) == metric {
          lessIsBetter = !Metrics.kerasClass(m).up
          return
        }
      }
      throw DLPError.config(
        "\(callback) callback received monitor=\(name), but Keras isn't able to automatically determine whether that metric should be maximized or minimized. Pass mode=max in order to monitor based on the highest metric value, or mode=min in order to use the lowest value."
      )
    }
  }

  /// Keras's `_is_improvement`: better than `reference` by more than `min_delta`.
  func isImprovement(_ value: Double, over reference: Double?) -> Bool {
    guard let reference else { return true }
    // Keras negates min_delta for `less` and compares monitor_value - min_delta.
    return lessIsBetter ?? true ? value - (-minDelta) < reference : value - minDelta > reference
  }
}

/// Prints a warning once per callback (Python's `warnings.warn` shows a message once).
final class OnceWarning {
  private var shown = false
  func warn(_ text: String) {
    guard !shown else { return }
    shown = true
    FileHandle.standardError.write(Data("warning: \(text)\n".utf8))
  }
}
