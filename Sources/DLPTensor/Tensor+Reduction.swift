/// Reductions over one axis or the whole tensor.
extension Tensor {
  func normalizedAxis(_ axis: Int) throws -> Int {
    let a = axis < 0 ? axis + rank : axis
    guard a >= 0 && a < rank else {
      throw TensorError.indexOutOfRange("axis \(axis) for a rank-\(rank) tensor")
    }
    return a
  }

  /// Reduces `axis` with `combine`, starting from `initial`; the axis is removed
  /// (or kept with extent 1 when `keepDims`).
  public func reduce(
    axis: Int, keepDims: Bool = false, initial: Float, _ combine: (Float, Float) -> Float
  ) throws -> Tensor {
    let a = try normalizedAxis(axis)
    let outer = shape[..<a].reduce(1, *)
    let extent = shape[a]
    let inner = shape[(a + 1)...].reduce(1, *)
    var out = [Float](repeating: initial, count: outer * inner)
    for o in 0..<outer {
      for k in 0..<extent {
        let base = (o * extent + k) * inner
        for i in 0..<inner { out[o * inner + i] = combine(out[o * inner + i], scalars[base + i]) }
      }
    }
    var newShape = shape
    if keepDims { newShape[a] = 1 } else { newShape.remove(at: a) }
    return Tensor(uncheckedShape: newShape, scalars: out)
  }

  public func sum(axis: Int, keepDims: Bool = false) throws -> Tensor {
    try reduce(axis: axis, keepDims: keepDims, initial: 0, +)
  }

  public func mean(axis: Int, keepDims: Bool = false) throws -> Tensor {
    let n = Float(shape[try normalizedAxis(axis)])
    return try sum(axis: axis, keepDims: keepDims) / n
  }

  public func max(axis: Int, keepDims: Bool = false) throws -> Tensor {
    try reduce(axis: axis, keepDims: keepDims, initial: -.infinity) { Swift.max($0, $1) }
  }

  public func min(axis: Int, keepDims: Bool = false) throws -> Tensor {
    try reduce(axis: axis, keepDims: keepDims, initial: .infinity) { Swift.min($0, $1) }
  }

  /// Sum of all elements, accumulated in Double.
  public func sum() -> Float { Float(scalars.reduce(0.0) { $0 + Double($1) }) }
  public func mean() -> Float { count == 0 ? .nan : sum() / Float(count) }
  public func max() -> Float { scalars.max() ?? -.infinity }
  public func min() -> Float { scalars.min() ?? .infinity }

  /// Index of the largest element along the last axis, per row (first one on ties, as numpy).
  public func argmaxLastAxis() -> [Int] {
    let width = shape.last ?? 1
    guard width > 0 else { return [] }
    let rows = count / width
    return (0..<rows).map { r in
      var best = 0
      var bestValue = scalars[r * width]
      for j in 1..<width where scalars[r * width + j] > bestValue {
        best = j
        bestValue = scalars[r * width + j]
      }
      return best
    }
  }
}
