import DLPTensor
import Foundation

/// One array of a `.npy` file (or of an `.npz` entry).
///
/// Numeric arrays keep their element bytes (little-endian, C order) and convert on demand; object
/// arrays, which numpy stores as a pickle, are supported when every element is a sequence of
/// integers: that is how Keras's imdb.npz and reuters.npz hold their variable-length reviews.
public struct NPYArray: Sendable, Equatable {
  /// The element types understood here, by numpy's type code without the byte-order character.
  public enum DType: String, Sendable, CaseIterable {
    case bool = "b1"
    case int8 = "i1"
    case uint8 = "u1"
    case int16 = "i2"
    case uint16 = "u2"
    case int32 = "i4"
    case uint32 = "u4"
    case int64 = "i8"
    case uint64 = "u8"
    case float32 = "f4"
    case float64 = "f8"
    case object = "O"

    /// Bytes per element (a pointer's worth for object arrays, as numpy reports).
    public var size: Int {
      switch self {
      case .bool, .int8, .uint8: return 1
      case .int16, .uint16: return 2
      case .int32, .uint32, .float32: return 4
      case .int64, .uint64, .float64, .object: return 8
      }
    }

    public var isInteger: Bool { self != .float32 && self != .float64 && self != .object }

    /// The `descr` numpy writes for this type on a little-endian machine.
    public var descr: String { (size == 1 || self == .object ? "|" : "<") + rawValue }

    /// Parses a numpy type string such as `<f4`, `|u1`, `>i8` or `|O`; the second value says
    /// whether the stored bytes are big-endian.
    static func parse(_ descr: String, source: String) throws -> (DType, bigEndian: Bool) {
      var code = Substring(descr)
      var bigEndian = false
      if let first = code.first, "<>|=".contains(first) {
        bigEndian = first == ">"
        code = code.dropFirst()
      }
      if code == "?" { code = "b1" }  // numpy's character code for bool
      if code == "O8" || code == "O4" { code = "O" }
      guard let type = DType(rawValue: String(code)) else {
        throw DLPError.data(
          "\(source): unsupported numpy dtype '\(descr)' (supported: "
            + DType.allCases.map(\.descr).joined(separator: ", ") + ")")
      }
      return (type, bigEndian)
    }
  }

  public let shape: [Int]
  public let dtype: DType
  /// Element bytes, little-endian, C order (empty for object arrays): a slice of the file's
  /// bytes, so reading an array does not copy it.
  public let data: ArraySlice<UInt8>
  /// For object arrays: each element as a sequence of integers, in C order.
  public let sequences: [[Int]]?

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }

  /// A numeric array from little-endian element bytes.
  public init(shape: [Int], dtype: DType, littleEndianData: [UInt8], source: String = "array")
    throws
  {
    try self.init(shape: shape, dtype: dtype, littleEndianSlice: littleEndianData[...], source: source)
  }

  init(shape: [Int], dtype: DType, littleEndianSlice littleEndianData: ArraySlice<UInt8>, source: String)
    throws
  {
    guard dtype != .object else { throw DLPError.data("\(source): object arrays need elements") }
    guard let n = shape.checkedProduct,
      case (let byteCount, false) = n.multipliedReportingOverflow(by: dtype.size),
      byteCount == littleEndianData.count
    else {
      throw DLPError.data(
        "\(source): \(littleEndianData.count) bytes cannot hold a \(dtype.descr) array of shape \(shape)"
      )
    }
    self.shape = shape
    self.dtype = dtype
    self.data = littleEndianData
    self.sequences = nil
  }

  /// An object array of integer sequences (what Keras's text datasets store).
  public init(shape: [Int], sequences: [[Int]]) throws {
    guard shape.checkedProduct == sequences.count else {
      throw DLPError.shape("\(sequences.count) sequences do not fill an array of shape \(shape)")
    }
    self.shape = shape
    self.dtype = .object
    self.data = []
    self.sequences = sequences
  }

  /// A float32 array holding a tensor's elements (what `--save-weights` writes).
  public init(_ tensor: Tensor) {
    self.shape = tensor.shape
    self.dtype = .float32
    self.sequences = nil
    self.data = tensor.scalars.withUnsafeBytes { raw in
      // Float32 is little-endian on every platform Swift supports for this library.
      [UInt8](raw)[...]
    }
  }

  /// Parses a whole `.npy` file's bytes.
  public init(npyBytes bytes: [UInt8], source: String) throws {
    var reader = ByteReader(bytes, source: source)
    let header = try NPYHeader.read(&reader)
    let (dtype, bigEndian) = try DType.parse(header.descr, source: source)
    guard !header.fortranOrder else {
      throw DLPError.data(
        "\(source): Fortran-ordered arrays are not supported; save with np.ascontiguousarray(x)")
    }
    if dtype == .object {
      let (shape, sequences) = try PickleReader.readSequenceArray(
        bytes, offset: reader.offset, source: source)
      guard shape == header.shape else {
        throw DLPError.data("\(source): pickled shape \(shape) differs from header \(header.shape)")
      }
      try self.init(shape: shape, sequences: sequences)
      return
    }
    guard let n = header.shape.checkedProduct,
      case (let byteCount, false) = n.multipliedReportingOverflow(by: dtype.size)
    else { throw DLPError.data("\(source): shape \(header.shape) is too large") }
    guard byteCount <= reader.remaining else {
      throw DLPError.data(
        "\(source): truncated: shape \(header.shape) of \(header.descr) needs \(byteCount) bytes, "
          + "\(reader.remaining) present")
    }
    var payload = bytes[reader.offset..<reader.offset + byteCount]
    if bigEndian && dtype.size > 1 {
      var swapped = Array(payload)
      NPYArray.swapBytes(&swapped, width: dtype.size)
      payload = swapped[...]
    }
    try self.init(shape: header.shape, dtype: dtype, littleEndianSlice: payload, source: source)
  }

  /// The `.npy` file bytes for this array (format 1.0, as `np.save` writes).
  public func npyBytes() throws -> [UInt8] {
    guard dtype != .object else {
      throw DLPError.data("writing object arrays is not supported (numpy would need a pickle)")
    }
    return NPYHeader(descr: dtype.descr, fortranOrder: false, shape: shape).encoded() + data
  }

  static func swapBytes(_ bytes: inout [UInt8], width: Int) {
    bytes.withUnsafeMutableBufferPointer { b in
      var i = 0
      while i < b.count {
        var lo = i
        var hi = i + width - 1
        while lo < hi {
          b.swapAt(lo, hi)
          lo += 1
          hi -= 1
        }
        i += width
      }
    }
  }
}
