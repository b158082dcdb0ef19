extension FitOptions {
  /// The batch size to train with when `requested` rows are asked for and the largest split
  /// has `rows`: Keras takes one batch of every sample when batch_size exceeds them, so
  /// clamping changes no batch, and it keeps buffers sized batch x width from overflowing
  /// (`--batch-size 9223372036854775807` trapped in the executor before).
  public static func effectiveBatchSize(_ requested: Int, rows: Int) -> Int {
    Swift.max(1, Swift.min(requested, rows, ShapeLimits.maxElements))
  }
}

extension PreparedData {
  /// Rows of the largest split (training or test): no batch needs more.
  public var largestSplit: Int { Swift.max(train.count, test?.count ?? 0) }
}
