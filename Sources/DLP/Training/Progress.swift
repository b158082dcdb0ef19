import Foundation

/// Keras's progress output: a live bar on a terminal, one line per epoch otherwise.
public final class ProgressPrinter {
  public enum Mode { case silent, bar, lines }
  let mode: Mode
  let out = FileHandle.standardOutput
  private var lastDraw = 0.0

  public init(mode: Mode? = nil) {
    self.mode = mode ?? (isatty(1) != 0 ? .bar : .lines)
  }

  func write(_ s: String) { out.write(Data(s.utf8)) }

  /// A line about the run itself (a worker lost, a rollback), on standard error whatever the
  /// mode, so it shows in logs.
  public func note(_ text: String) {
    FileHandle.standardError.write(Data("dlp: \(text)\n".utf8))
  }

  public func beginEpoch(_ epoch: Int, of total: Int) {
    guard mode != .silent else { return }
    write("Epoch \(epoch)/\(total)\n")
    lastDraw = 0
  }

  public func step(_ step: Int, of steps: Int, elapsed: Double, logs: [String: Double]) {
    guard mode == .bar else { return }
    // Redrawing costs a syscall; keep it to ~10 per second.
    if step < steps && elapsed - lastDraw < 0.1 { return }
    lastDraw = elapsed
    write("\r" + line(step: step, steps: steps, elapsed: elapsed, logs: logs) + "\u{1B}[K")
  }

  public func endEpoch(steps: Int, elapsed: Double, logs: [String: Double]) {
    switch mode {
    case .silent: return
    case .bar: write("\r" + line(step: steps, steps: steps, elapsed: elapsed, logs: logs) + "\u{1B}[K\n")
    case .lines: write(line(step: steps, steps: steps, elapsed: elapsed, logs: logs) + "\n")
    }
  }

  func line(step: Int, steps: Int, elapsed: Double, logs: [String: Double]) -> String {
    let width = 20
    let filled = steps > 0 ? width * step / steps : width
    let bar = String(repeating: "━", count: filled) + String(repeating: "─", count: width - filled)
    let perStep = step > 0 ? elapsed / Double(step) : 0
    let stepText = perStep >= 1 ? String(format: "%.0fs/step", perStep) : perStep >= 1e-3
      ? String(format: "%.0fms/step", perStep * 1e3) : String(format: "%.0fus/step", perStep * 1e6)
    let metrics = logs.keys.sorted().map { String(format: "\($0): %.4f", logs[$0]!) }.joined(separator: " - ")
    return "\(step)/\(steps) \(bar) \(Int(elapsed.rounded()))s \(stepText)" + (metrics.isEmpty ? "" : " - " + metrics)
  }
}
