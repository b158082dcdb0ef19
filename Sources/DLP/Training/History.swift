/// Keras's History: per-epoch logs (`loss`, metrics, `val_*`).
public struct History: Sendable, Codable, Equatable {
  public var history: [String: [Double]] = [:]
  public var epochs: [Int] = []
  /// Wall seconds of each epoch's training steps (validation excluded).
  public var epochSeconds: [Double] = []
  public var trainSamples = 0
  /// Set when training stopped early because the loss became NaN or infinite.
  public var stoppedReason: String?

  public init() {}

  mutating func append(epoch: Int, logs: [String: Double], seconds: Double) {
    epochs.append(epoch)
    epochSeconds.append(seconds)
    for (k, v) in logs { history[k, default: []].append(v) }
  }

  /// Samples per second over steady epochs (all but the first when there are several: the first
  /// pays for allocation and warm-up, as with the peers we compare against).
  public var samplesPerSecond: Double {
    let steady = epochSeconds.count > 1 ? Array(epochSeconds.dropFirst()) : epochSeconds
    let t = steady.reduce(0, +)
    return t > 0 ? Double(trainSamples * steady.count) / t : 0
  }

  public var trainSeconds: Double { epochSeconds.reduce(0, +) }

  public var json: JSONValue { .object(history.mapValues { JSONValue($0) }) }
}
