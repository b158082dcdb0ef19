import DLPTensor

/// How a sample array's elements are stored: in the element type their file had, so a dataset
/// of images takes a byte a pixel until a batch of it is gathered into a model's Float32 input
/// buffer (`SampleArray.copyRows`).
///
/// Every case holds a slice of a copy-on-write array: taking rows (a validation split, the
/// first N samples) gives a view of the same memory, never a copy.
public enum SampleStorage: Sendable, Equatable {
  /// Float32 values, delivered as they are.
  case float32(ArraySlice<Float>)
  /// Bytes (image pixels), delivered as `Float(v) / divisor`: a division, as numpy's
  /// `x.astype("float32") / 255` is, so the values agree with Keras's to the last bit (a
  /// multiplication by 1/255 would not).
  case uint8(ArraySlice<UInt8>, divisor: Float)
  /// Integers of any width that fit in Int32 (token ids, integer features). Delivered as
  /// `Float(v)` to an input that takes values, or bit for bit to one that takes integer ids
  /// (`SampleDelivery.int32Bits`).
  case int32(ArraySlice<Int32>)
}

/// What `SampleArray.copyRows` writes into a model input's Float32 buffer.
public enum SampleDelivery: Sendable, Equatable {
  /// Float32 values: float32 storage as it is, uint8 divided by its divisor, int32 as
  /// `Float(v)` (what Keras does to an integer array fed to a float input).
  case values
  /// Int32 bit patterns, no float round trip: the buffer is Float-typed, and a layer that takes
  /// integer ids (an Embedding) reads it with `withMemoryRebound(to: Int32.self, ...)`. int32
  /// storage is copied bit for bit and uint8 widened; float32 storage is refused when data
  /// meets such an input (`ArrayData.validate`), since a float is not an id.
  case int32Bits
}

/// Samples along the first axis (`shape[0]` of them) in their own element type: the arrays
/// `ArrayData` and the dataset loaders hold. `Tensor` stays Float32; a `SampleArray` made from
/// one shares its elements.
public struct SampleArray: Sendable, Equatable {
  /// The element type of `storage`, for messages and for the wire.
  public enum DType: String, Sendable {
    case float32, uint8, int32

    /// Bytes per element.
    public var size: Int { self == .uint8 ? 1 : 4 }
  }

  /// The extent of each axis, samples first.
  public private(set) var shape: [Int]
  public private(set) var storage: SampleStorage

  /// Wraps `storage` with `shape`, checking that they agree.
  public init(shape: [Int], storage: SampleStorage) throws {
    guard !shape.isEmpty, shape.allSatisfy({ $0 >= 0 }), let n = shape.checkedProduct else {
      throw DLPError.shape("sample arrays need a batch axis and no negative extent; got shape \(shape)")
    }
    guard n == storage.elementCount else {
      throw DLPError.shape("shape \(shape) holds \(n) elements but \(storage.elementCount) were given")
    }
    self.shape = shape
    self.storage = storage
  }

  /// A tensor's elements (shared, not copied) as float32 samples.
  public init(_ tensor: Tensor) {
    shape = tensor.rank == 0 ? [1] : tensor.shape
    storage = .float32(tensor.scalars[...])
  }

  public init(shape: [Int], float32 values: [Float]) throws {
    try self.init(shape: shape, storage: .float32(values[...]))
  }

  /// Bytes delivered as `Float(v) / divisor` (255 for the book's image inputs).
  public init(shape: [Int], uint8 values: [UInt8], divisor: Float = 1) throws {
    try self.init(shape: shape, storage: .uint8(values[...], divisor: divisor))
  }

  public init(shape: [Int], int32 values: [Int32]) throws {
    try self.init(shape: shape, storage: .int32(values[...]))
  }

  public var dtype: DType {
    switch storage {
    case .float32: return .float32
    case .uint8: return .uint8
    case .int32: return .int32
    }
  }

  /// The number of samples (the first axis).
  public var rows: Int { shape[0] }
  public var rank: Int { shape.count }
  /// Elements per sample.
  public var rowWidth: Int { shape.dropFirst().reduce(1, *) }
  public var elementCount: Int { storage.elementCount }

  /// The same elements with another shape; the sample axis must stay (one extent may be -1).
  public func reshaped(to newShape: [Int]) throws -> SampleArray {
    var resolved = newShape
    let inferred = newShape.indices.filter { newShape[$0] == -1 }
    guard inferred.count <= 1, newShape.allSatisfy({ $0 >= -1 }) else {
      throw DLPError.shape("cannot reshape \(shape) to \(newShape)")
    }
    if let axis = inferred.first {
      let known = newShape.filter { $0 != -1 }.reduce(1, *)
      guard known > 0, elementCount % known == 0 else { throw DLPError.shape("cannot reshape \(shape) to \(newShape)") }
      resolved[axis] = elementCount / known
    }
    return try SampleArray(shape: resolved, storage: storage)
  }

  /// Rows `range`: a view of the same memory.
  public func rows(_ range: Range<Int>) throws -> SampleArray {
    guard range.lowerBound >= 0, range.upperBound <= rows else {
      throw DLPError.shape("rows \(range) are outside the \(rows) samples")
    }
    let w = rowWidth
    let elements = (range.lowerBound * w)..<(range.upperBound * w)
    return try SampleArray(shape: [range.count] + shape.dropFirst(), storage: storage.slice(elements))
  }

  /// The rows at `indices`, in that order, copied in this array's own element type.
  public func gathering<C: Collection>(rows indices: C) throws -> SampleArray where C.Element == Int {
    let n = rows
    if let bad = indices.first(where: { $0 < 0 || $0 >= n }) {
      throw DLPError.shape("row index \(bad) is outside the \(n) samples")
    }
    let w = rowWidth
    func gather<T>(_ src: ArraySlice<T>) -> ArraySlice<T> {
      let out = [T](unsafeUninitializedCapacity: indices.count * w) { dst, initialized in
        src.withUnsafeBufferPointer { s in
          for (k, r) in indices.enumerated() {
            _ = UnsafeMutableBufferPointer(rebasing: dst[(k * w)..<((k + 1) * w)])
              .initialize(from: UnsafeBufferPointer(rebasing: s[(r * w)..<((r + 1) * w)]))
          }
        }
        initialized = indices.count * w
      }
      return out[...]
    }
    let shape = [indices.count] + self.shape.dropFirst()
    switch storage {
    case .float32(let s): return try SampleArray(shape: shape, storage: .float32(gather(s)))
    case .uint8(let s, let d): return try SampleArray(shape: shape, storage: .uint8(gather(s), divisor: d))
    case .int32(let s): return try SampleArray(shape: shape, storage: .int32(gather(s)))
    }
  }

  /// The same samples in memory of their own: a view of a few rows otherwise keeps the whole
  /// array it was taken from alive.
  public func compacted() -> SampleArray {
    var out = self
    switch storage {
    case .float32(let s): out.storage = .float32(Array(s)[...])
    case .uint8(let s, let d): out.storage = .uint8(Array(s)[...], divisor: d)
    case .int32(let s): out.storage = .int32(Array(s)[...])
    }
    return out
  }

  /// The elements as the Float32 values a model input would receive (`SampleDelivery.values`).
  /// Allocates a Float copy unless the storage is float32: meant for small arrays (labels,
  /// statistics, tests), not for a whole image dataset.
  public func floats() -> [Float] {
    switch storage {
    case .float32(let s): return Array(s)
    case .uint8(let s, let d): return s.map { Float($0) / d }
    case .int32(let s): return s.map { Float($0) }
    }
  }

  /// The values (see `floats()`) as a tensor of this shape.
  public func tensor() -> Tensor { Tensor(uncheckedShape: shape, scalars: floats()) }

  /// Calls `body` with the values as Float32 (the storage itself when it is float32, else a
  /// temporary copy: for targets and other small arrays).
  public func withFloats<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
    if case .float32(let s) = storage { return try s.withUnsafeBufferPointer(body) }
    return try floats().withUnsafeBufferPointer(body)
  }

  /// The elements' bytes as stored (native byte order), for hashing and shipping.
  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    switch storage {
    case .float32(let s): return try s.withUnsafeBytes(body)
    case .uint8(let s, _): return try s.withUnsafeBytes(body)
    case .int32(let s): return try s.withUnsafeBytes(body)
    }
  }
}

extension SampleStorage {
  var elementCount: Int {
    switch self {
    case .float32(let s): return s.count
    case .uint8(let s, _): return s.count
    case .int32(let s): return s.count
    }
  }

  /// Elements `range` (counted from this slice's start): a view.
  func slice(_ range: Range<Int>) -> SampleStorage {
    func sub<T>(_ s: ArraySlice<T>) -> ArraySlice<T> {
      s[(s.startIndex + range.lowerBound)..<(s.startIndex + range.upperBound)]
    }
    switch self {
    case .float32(let s): return .float32(sub(s))
    case .uint8(let s, let d): return .uint8(sub(s), divisor: d)
    case .int32(let s): return .int32(sub(s))
    }
  }
}
