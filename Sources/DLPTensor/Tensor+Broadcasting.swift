/// Element-wise arithmetic with numpy broadcasting rules.
extension Tensor {
  /// The shape two operands broadcast to (numpy rules: align trailing axes; 1 stretches).
  public static func broadcastShape(_ a: [Int], _ b: [Int]) throws -> [Int] {
    let rank = Swift.max(a.count, b.count)
    var result = [Int](repeating: 1, count: rank)
    for i in 0..<rank {
      let da = i < rank - a.count ? 1 : a[i - (rank - a.count)]
      let db = i < rank - b.count ? 1 : b[i - (rank - b.count)]
      guard da == db || da == 1 || db == 1 else {
        throw TensorError.shapeMismatch("shapes \(a) and \(b) do not broadcast")
      }
      result[i] = da == 1 ? db : da
    }
    return result
  }

  /// Row-major strides of `shape` as seen from a tensor of `outShape`: 0 on broadcast axes.
  static func broadcastStrides(_ shape: [Int], to outShape: [Int]) -> [Int] {
    var strides = [Int](repeating: 0, count: outShape.count)
    var step = 1
    for i in stride(from: shape.count - 1, through: 0, by: -1) {
      let o = i + outShape.count - shape.count
      strides[o] = shape[i] == 1 ? 0 : step
      step *= shape[i]
    }
    return strides
  }

  /// Applies `op` element-wise over the broadcast of `a` and `b`.
  public static func broadcasting(
    _ a: Tensor, _ b: Tensor, _ op: (Float, Float) -> Float
  ) throws -> Tensor {
    if a.shape == b.shape {
      var out = a.scalars
      out.withUnsafeMutableBufferPointer { o in
        b.scalars.withUnsafeBufferPointer { bp in
          for i in 0..<o.count { o[i] = op(o[i], bp[i]) }
        }
      }
      return Tensor(uncheckedShape: a.shape, scalars: out)
    }
    let shape = try broadcastShape(a.shape, b.shape)
    let count = shape.reduce(1, *)
    let sa = broadcastStrides(a.shape, to: shape)
    let sb = broadcastStrides(b.shape, to: shape)
    var out = [Float](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: shape.count)
    var ia = 0
    var ib = 0
    for flat in 0..<count {
      out[flat] = op(a.scalars[ia], b.scalars[ib])
      // Odometer increment over the output index, keeping the operand offsets in step.
      var axis = shape.count - 1
      while axis >= 0 {
        index[axis] += 1
        ia += sa[axis]
        ib += sb[axis]
        if index[axis] < shape[axis] { break }
        ia -= sa[axis] * shape[axis]
        ib -= sb[axis] * shape[axis]
        index[axis] = 0
        axis -= 1
      }
    }
    return Tensor(uncheckedShape: shape, scalars: out)
  }

  /// Applies `op` to every element.
  public func map(_ op: (Float) -> Float) -> Tensor {
    Tensor(uncheckedShape: shape, scalars: scalars.map(op))
  }

  public static func + (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, +) }
  public static func - (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, -) }
  public static func * (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, *) }
  public static func / (a: Tensor, b: Tensor) throws -> Tensor { try broadcasting(a, b, /) }

  public static func + (a: Tensor, s: Float) -> Tensor { a.map { $0 + s } }
  public static func - (a: Tensor, s: Float) -> Tensor { a.map { $0 - s } }
  public static func * (a: Tensor, s: Float) -> Tensor { a.map { $0 * s } }
  public static func / (a: Tensor, s: Float) -> Tensor { a.map { $0 / s } }
}
