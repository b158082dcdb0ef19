import DLPTensor

extension NPYArray {
  /// The elements as Float (C order), each divided by `divisor`; object arrays throw.
  ///
  /// float64 and int64 values are rounded to the nearest Float, as `x.astype("float32")` does.
  public func floats(dividingBy divisor: Float = 1) throws -> [Float] {
    guard dtype != .object else {
      throw DLPError.data("an object array (of sequences) cannot be read as numbers")
    }
    let n = count
    let type = dtype
    return [Float](unsafeUninitializedCapacity: n) { out, initialized in
      data.withUnsafeBytes { src in
        @inline(__always) func load<T: FixedWidthInteger>(_: T.Type, _ i: Int) -> T {
          T(littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        }
        switch type {
        case .bool, .uint8:
          // Raw pointers so that the loop vectorises (mnist.npz holds 47 million pixels).
          guard n > 0 else { break }
          let from = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
          let to = out.baseAddress!
          for i in 0..<n { to[i] = Float(from[i]) / divisor }
        case .int8: for i in 0..<n { out[i] = Float(Int8(bitPattern: src[i])) / divisor }
        case .int16: for i in 0..<n { out[i] = Float(load(Int16.self, i)) / divisor }
        case .uint16: for i in 0..<n { out[i] = Float(load(UInt16.self, i)) / divisor }
        case .int32: for i in 0..<n { out[i] = Float(load(Int32.self, i)) / divisor }
        case .uint32: for i in 0..<n { out[i] = Float(load(UInt32.self, i)) / divisor }
        case .int64: for i in 0..<n { out[i] = Float(load(Int64.self, i)) / divisor }
        case .uint64: for i in 0..<n { out[i] = Float(load(UInt64.self, i)) / divisor }
        case .float32:
          for i in 0..<n { out[i] = Float(bitPattern: load(UInt32.self, i)) / divisor }
        case .float64:
          for i in 0..<n { out[i] = Float(Double(bitPattern: load(UInt64.self, i))) / divisor }
        case .object: break
        }
      }
      initialized = n
    }
  }

  /// The array as a tensor of its shape (see `floats(dividingBy:)`).
  public func tensor(dividingBy divisor: Float = 1) throws -> Tensor {
    try makeTensor(shape, floats(dividingBy: divisor))
  }

  /// The array as samples in its own element type, without a Float copy where it can: uint8
  /// and bool elements are the file's bytes themselves (delivered divided by `divisor`);
  /// integers that all fit in Int32 become Int32 (when `divisor` is 1); everything else
  /// Float32 values divided by `divisor`, as `floats(dividingBy:)` gives them.
  public func samples(dividingBy divisor: Float = 1) throws -> SampleArray {
    let shape = self.shape.isEmpty ? [1] : self.shape
    switch dtype {
    case .object:
      throw DLPError.data("an object array (of sequences) cannot be read as numbers")
    case .bool, .uint8:
      return try SampleArray(shape: shape, storage: .uint8(data, divisor: divisor))
    case .int8, .int16, .uint16, .int32, .uint32, .int64, .uint64:
      // (A `where` after several patterns would guard only the last one.)
      if divisor == 1, let ids = int32Values() { return try SampleArray(shape: shape, int32: ids) }
      return try SampleArray(shape: shape, float32: floats(dividingBy: divisor))
    case .float32, .float64:
      return try SampleArray(shape: shape, float32: floats(dividingBy: divisor))
    }
  }

  /// The integer elements as Int32, or nil when one does not fit (or they are not integers).
  func int32Values() -> [Int32]? {
    let n = count
    let type = dtype
    var fits = true
    let values = [Int32](unsafeUninitializedCapacity: n) { out, initialized in
      data.withUnsafeBytes { src in
        func copy<T: FixedWidthInteger>(_: T.Type) {
          for i in 0..<n {
            let v = T(littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
            guard let exact = Int32(exactly: v) else {
              fits = false
              return
            }
            out[i] = exact
          }
        }
        switch type {
        case .bool, .uint8: copy(UInt8.self)
        case .int8: copy(Int8.self)
        case .int16: copy(Int16.self)
        case .uint16: copy(UInt16.self)
        case .int32: copy(Int32.self)
        case .uint32: copy(UInt32.self)
        case .int64: copy(Int64.self)
        case .uint64: copy(UInt64.self)
        case .float32, .float64, .object: fits = false
        }
      }
      initialized = fits ? n : 0
    }
    return fits ? values : nil
  }

  /// The elements as integers (labels, word indices). Floating-point elements must be whole
  /// numbers; the error names the first one that is not.
  public func integers() throws -> [Int] {
    switch dtype {
    case .object:
      throw DLPError.data("an object array (of sequences) cannot be read as integers")
    case .float32, .float64:
      let values: [Double] =
        dtype == .float64
        ? (0..<count).map { i in
          data.withUnsafeBytes {
            Double(
              bitPattern: UInt64(
                littleEndian: $0.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self)))
          }
        } : try floats().map(Double.init)
      return try values.enumerated().map { i, v in
        guard let exact = Int(exactly: v) else {
          throw DLPError.data("element \(i) is \(v), not a whole number")
        }
        return exact
      }
    case .bool, .uint8: return data.map { Int($0) }
    case .int8: return data.map { Int(Int8(bitPattern: $0)) }
    case .int16: return try loadIntegers(Int16.self)
    case .uint16: return try loadIntegers(UInt16.self)
    case .int32: return try loadIntegers(Int32.self)
    case .uint32: return try loadIntegers(UInt32.self)
    case .int64: return try loadIntegers(Int64.self)
    case .uint64: return try loadIntegers(UInt64.self)
    }
  }

  private func loadIntegers<T: FixedWidthInteger>(_: T.Type) throws -> [Int] {
    try data.withUnsafeBytes { src in
      try (0..<count).map { i in
        let v = T(
          littleEndian: src.loadUnaligned(fromByteOffset: i * MemoryLayout<T>.size, as: T.self))
        guard let exact = Int(exactly: v) else {
          throw DLPError.data("element \(i) is \(v): too large for Int")
        }
        return exact
      }
    }
  }

  /// The array as a list of integer sequences: an object array's elements, or the rows of a 2-D
  /// integer array (iterating a 2-D array gives its rows in numpy too, so Keras's processing
  /// treats both alike).
  public func sequenceList() throws -> [[Int]] {
    if let sequences { return sequences }
    guard dtype.isInteger, shape.count == 2 else {
      throw DLPError.data(
        "expected sequences (an object array of lists, or a 2-D integer array), "
          + "found a \(dtype.descr) array of shape \(shape)")
    }
    let all = try integers()
    let width = shape[1]
    return (0..<shape[0]).map { Array(all[$0 * width..<($0 + 1) * width]) }
  }
}
