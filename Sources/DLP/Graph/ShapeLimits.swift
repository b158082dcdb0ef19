/// Bounds on tensor sizes, checked where shapes come in (layer builds, model documents) so a
/// huge or hostile size ends in a clear error instead of an overflow trap or an allocation that
/// cannot succeed: BLAS takes its dimensions as 32-bit integers, so no weight and no sample's
/// activations may hold more than `maxElements` values.
public enum ShapeLimits {
  public static let maxElements = Int(Int32.max)

  /// The element count of `shape`, or nil when a dimension is negative or the product
  /// overflows.
  public static func elementCount(_ shape: [Int]) -> Int? {
    var product = 1
    for d in shape {
      guard d >= 0 else { return nil }
      let (p, overflow) = product.multipliedReportingOverflow(by: d)
      guard !overflow else { return nil }
      product = p
    }
    return product
  }

  /// Checks `shape` (of `what`, named in the error) and returns its element count.
  @discardableResult
  public static func check(_ shape: [Int], _ what: @autoclosure () -> String) throws -> Int {
    guard shape.allSatisfy({ $0 >= 0 }) else {
      throw DLPError.shape("\(what()) has a negative dimension. Received: shape=\(shape)")
    }
    // Dimensions of 0 make any product 0; the others must still multiply without overflow.
    guard let count = elementCount(shape), elementCount(shape.map { Swift.max($0, 1) }) != nil,
      count <= maxElements
    else {
      throw DLPError.shape(
        "\(what()) would hold more than \(maxElements) values (the most one tensor may hold: BLAS takes 32-bit dimensions). Received: shape=\(shape)"
      )
    }
    return count
  }

  /// Checks a layer's output shape and every weight it declared.
  static func checkBuild(of layer: Layer, output: [Int]) throws {
    try check(output, "the output of layer '\(layer.name)' (\(layer.className))")
    for w in layer.weightSpecs {
      try check(w.shape, "weight '\(layer.name)/\(w.name)'")
    }
  }
}
