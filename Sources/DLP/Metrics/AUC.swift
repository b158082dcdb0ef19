/// Keras's ROC AUC with 200 thresholds and trapezoidal (interpolation) summation.
///
/// Keras keeps TP/FP/TN/FN per threshold; here the state is a histogram of positives and
/// negatives by how many thresholds each prediction exceeds, which gives the same counts,
/// costs O(1) per element instead of O(thresholds), and still adds across workers.
public struct AUC: Metric {
  public let name: String
  public let numThresholds = 200
  /// Keras: [-eps, 1/(n-1), ..., (n-2)/(n-1), 1 + eps].
  let thresholds: [Float]

  public init(name: String) {
    self.name = name
    let n = 200
    let eps: Float = 1e-7
    thresholds = [-eps] + (1..<(n - 1)).map { Float($0) / Float(n - 1) } + [1 + eps]
  }

  public var stateSize: Int { 2 * (numThresholds + 1) }

  public func update(
    prediction: UnsafePointer<Float>, target: UnsafePointer<Float>, rows: Int, width: Int,
    state: UnsafeMutablePointer<Double>
  ) {
    let buckets = numThresholds + 1
    for i in 0..<(rows * width) {
      let k = exceeded(prediction[i])
      state[(target[i] > 0.5 ? 0 : buckets) + k] += 1
    }
  }

  /// Number of thresholds strictly below p (binary search).
  func exceeded(_ p: Float) -> Int {
    var lo = 0
    var hi = thresholds.count
    while lo < hi {
      let mid = (lo + hi) / 2
      if thresholds[mid] < p { lo = mid + 1 } else { hi = mid }
    }
    return lo
  }

  public func result(_ s: UnsafeBufferPointer<Double>) -> Double {
    let buckets = numThresholds + 1
    // tp[t] = positives that exceed threshold t = positives in buckets k > t.
    var tpr = [Double](repeating: 0, count: numThresholds)
    var fpr = [Double](repeating: 0, count: numThresholds)
    let pos = (0..<buckets).reduce(0.0) { $0 + s[$1] }
    let neg = (0..<buckets).reduce(0.0) { $0 + s[buckets + $1] }
    var tp = pos
    var fp = neg
    for t in 0..<numThresholds {
      tp -= s[t]
      fp -= s[buckets + t]
      tpr[t] = pos > 0 ? tp / pos : 0
      fpr[t] = neg > 0 ? fp / neg : 0
    }
    var area = 0.0
    for t in 0..<(numThresholds - 1) { area += (fpr[t] - fpr[t + 1]) * (tpr[t] + tpr[t + 1]) / 2 }
    return area
  }
}
