/// Batch-axis slicing, row gathers, concatenation and transposes.
extension Tensor {
  /// Rows `range` of axis 0.
  public func slice(rows range: Range<Int>) throws -> Tensor {
    guard rank >= 1, range.lowerBound >= 0, range.upperBound <= shape[0] else {
      throw TensorError.indexOutOfRange("rows \(range) of a tensor of shape \(shape)")
    }
    let w = rowWidth
    var newShape = shape
    newShape[0] = range.count
    return Tensor(
      uncheckedShape: newShape, scalars: Array(scalars[(range.lowerBound * w)..<(range.upperBound * w)]))
  }

  /// The rows at `indices` of axis 0, in that order.
  public func gather(rows indices: [Int]) throws -> Tensor {
    guard rank >= 1 else { throw TensorError.invalidShape("gather on a scalar") }
    let n = shape[0]
    if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
      throw TensorError.indexOutOfRange("row \(bad) of a tensor with \(n) rows")
    }
    let w = rowWidth
    var out = [Float](repeating: 0, count: indices.count * w)
    out.withUnsafeMutableBufferPointer { o in
      scalars.withUnsafeBufferPointer { s in
        for (k, r) in indices.enumerated() {
          (o.baseAddress! + k * w).update(from: s.baseAddress! + r * w, count: w)
        }
      }
    }
    var newShape = shape
    newShape[0] = indices.count
    return Tensor(uncheckedShape: newShape, scalars: out)
  }

  /// Joins tensors along axis 0; all other extents must agree.
  public static func concatenate(rows parts: [Tensor]) throws -> Tensor {
    guard let first = parts.first else { throw TensorError.invalidShape("nothing to concatenate") }
    let tail = Array(first.shape.dropFirst())
    for p in parts where Array(p.shape.dropFirst()) != tail || p.rank != first.rank {
      throw TensorError.shapeMismatch("cannot concatenate \(p.shape) with \(first.shape)")
    }
    var scalars: [Float] = []
    scalars.reserveCapacity(parts.reduce(0) { $0 + $1.count })
    for p in parts { scalars += p.scalars }
    return Tensor(uncheckedShape: [parts.reduce(0) { $0 + $1.shape[0] }] + tail, scalars: scalars)
  }

  /// Permutes the axes: `result.shape[i] == shape[permutation[i]]`.
  public func transposed(_ permutation: [Int]? = nil) throws -> Tensor {
    let perm = permutation ?? Array((0..<rank).reversed())
    guard perm.sorted() == Array(0..<rank) else {
      throw TensorError.invalidShape("\(perm) is not a permutation of the axes of \(shape)")
    }
    let newShape = perm.map { shape[$0] }
    var srcStrides = [Int](repeating: 1, count: rank)
    for i in stride(from: rank - 2, through: 0, by: -1) { srcStrides[i] = srcStrides[i + 1] * shape[i + 1] }
    let strides = perm.map { srcStrides[$0] }
    var out = [Float](repeating: 0, count: count)
    var index = [Int](repeating: 0, count: rank)
    var src = 0
    for flat in 0..<count {
      out[flat] = scalars[src]
      var axis = rank - 1
      while axis >= 0 {
        index[axis] += 1
        src += strides[axis]
        if index[axis] < newShape[axis] { break }
        src -= strides[axis] * newShape[axis]
        index[axis] = 0
        axis -= 1
      }
    }
    return Tensor(uncheckedShape: newShape, scalars: out)
  }
}
