import DLPTensor
import Foundation

/// An IDX file (the MNIST / Fashion-MNIST format), gzipped or not.
///
/// Layout: two zero bytes, a type code, the number of dimensions, then each extent as a big-endian
/// UInt32, then the elements in row-major order, big-endian. The file size must match the header
/// exactly, so a truncated download is reported instead of silently giving fewer images.
public struct IDXFile: Sendable {
  /// The element types IDX defines.
  public enum ElementType: UInt8, Sendable {
    case uint8 = 0x08
    case int8 = 0x09
    case int16 = 0x0B
    case int32 = 0x0C
    case float32 = 0x0D
    case float64 = 0x0E

    /// Bytes per element.
    public var size: Int {
      switch self {
      case .uint8, .int8: return 1
      case .int16: return 2
      case .int32, .float32: return 4
      case .float64: return 8
      }
    }
  }

  public let elementType: ElementType
  public let shape: [Int]
  /// The element bytes, big-endian as in the file (the header removed).
  let payload: ArraySlice<UInt8>

  /// Reads and validates an IDX file; `.gz` content is detected by its magic, not its name.
  /// `maxItems` keeps only the first items along the first axis (and, gzipped, decompresses
  /// only those).
  public init(contentsOf url: URL, maxItems: Int? = nil) throws {
    try self.init(bytes: try FileIO.readBytes(url), source: url.path, maxItems: maxItems)
  }

  /// Parses IDX bytes (gzip-compressed or raw) that came from `source`, keeping at most
  /// `maxItems` items along the first axis when given. A compressed prefix is checked against
  /// its header like a whole file (a file with fewer items than the header says is still
  /// reported as truncated); only the trailer's checksum is left unread.
  public init(bytes: [UInt8], source: String, maxItems: Int? = nil) throws {
    let raw: [UInt8]
    if let maxItems, Gzip.isGzip(bytes) {
      raw = try Self.decompressPrefix(bytes, items: maxItems, source: source)
    } else {
      raw = Gzip.isGzip(bytes) ? try Gzip.gunzip(bytes, source: source) : bytes
    }
    var reader = ByteReader(raw, source: source)
    let zero0 = try reader.u8("IDX magic")
    let zero1 = try reader.u8("IDX magic")
    let code = try reader.u8("IDX type code")
    let rank = Int(try reader.u8("IDX dimension count"))
    guard zero0 == 0, zero1 == 0 else {
      throw DLPError.data("\(source): not an IDX file (magic must start with two zero bytes)")
    }
    guard let type = ElementType(rawValue: code) else {
      throw DLPError.data(
        "\(source): unknown IDX element type 0x\(String(code, radix: 16)) "
          + "(expected 0x08, 0x09, 0x0B, 0x0C, 0x0D or 0x0E)")
    }
    guard rank >= 1 else { throw DLPError.data("\(source): IDX file with zero dimensions") }
    var shape: [Int] = []
    for axis in 0..<rank {
      shape.append(Int(try reader.bigEndian(4, "extent of IDX dimension \(axis)")))
    }
    guard let fullCount = shape.checkedProduct,
      case (let fullBytes, false) = fullCount.multipliedReportingOverflow(by: type.size)
    else { throw DLPError.data("\(source): IDX shape \(shape) is too large") }
    let fullShape = shape
    if let maxItems {
      guard maxItems >= 0 else { throw DLPError.data("\(source): negative item limit \(maxItems)") }
      shape[0] = min(shape[0], maxItems)
    }
    // Bytes of the items kept; a gzipped prefix holds exactly those, anything else the whole file.
    let byteCount = fullShape[0] == 0 ? 0 : fullBytes / fullShape[0] * shape[0]
    let expected = maxItems != nil && Gzip.isGzip(bytes) ? byteCount : fullBytes
    guard expected == reader.remaining else {
      throw DLPError.data(
        "\(source): IDX header says shape \(fullShape) of \(type) (\(expected) bytes of data"
          + (shape == fullShape ? "" : " for its first \(shape[0]) items") + ") "
          + "but the file holds \(reader.remaining) bytes after the header"
          + (expected > reader.remaining ? " (truncated?)" : ""))
    }
    self.elementType = type
    self.shape = shape
    self.payload = raw[reader.offset..<(reader.offset + byteCount)]
  }

  /// Number of elements.
  public var count: Int { payload.count / elementType.size }

  /// The elements as Float, each divided by `divisor` (255 turns pixels into 0...1 exactly as
  /// numpy's `x.astype("float32") / 255` does: a division, not a multiplication by 1/255, which
  /// would differ in the last bit for some values).
  public func floats(dividingBy divisor: Float = 1) -> [Float] {
    let n = count
    let type = elementType
    return [Float](unsafeUninitializedCapacity: n) { out, initialized in
      payload.withUnsafeBytes { src in
        switch type {
        case .uint8:
          guard n > 0 else { break }
          // The hot case (60000 images of 784 pixels): a plain convert-and-divide loop over raw
          // pointers, which the compiler vectorises (a lookup table would not vectorise).
          let from = src.baseAddress!.assumingMemoryBound(to: UInt8.self)
          let to = out.baseAddress!
          for i in 0..<n { to[i] = Float(from[i]) / divisor }
        case .int8:
          for i in 0..<n { out[i] = Float(Int8(bitPattern: src[i])) / divisor }
        case .int16:
          for i in 0..<n {
            let v = UInt16(src[2 * i]) << 8 | UInt16(src[2 * i + 1])
            out[i] = Float(Int16(bitPattern: v)) / divisor
          }
        case .int32:
          for i in 0..<n {
            let v = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).bigEndian
            out[i] = Float(Int32(bitPattern: v)) / divisor
          }
        case .float32:
          for i in 0..<n {
            let v = src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).bigEndian
            out[i] = Float(bitPattern: v) / divisor
          }
        case .float64:
          for i in 0..<n {
            let v = src.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self).bigEndian
            out[i] = Float(Double(bitPattern: v)) / divisor
          }
        }
      }
      initialized = n
    }
  }

  /// The file as a tensor of its shape (uint8 elements become 0...255 unless a divisor is given).
  public func tensor(dividingBy divisor: Float = 1) throws -> Tensor {
    try makeTensor(shape, floats(dividingBy: divisor))
  }

  /// The file as samples in its own element type, without a Float copy: uint8 elements are the
  /// file's bytes themselves (delivered divided by `divisor`), other integers become Int32
  /// (or Float divided by `divisor` when it is not 1), floats Float32.
  public func samples(dividingBy divisor: Float = 1) throws -> SampleArray {
    switch elementType {
    case .uint8:
      return try SampleArray(shape: shape, storage: .uint8(payload, divisor: divisor))
    case .int8, .int16, .int32:
      // (A `where` after several patterns would guard only the last one.)
      guard divisor == 1 else { return try SampleArray(shape: shape, float32: floats(dividingBy: divisor)) }
      let n = count
      let type = elementType
      let values = [Int32](unsafeUninitializedCapacity: n) { out, initialized in
        payload.withUnsafeBytes { src in
          for i in 0..<n {
            switch type {
            case .int8: out[i] = Int32(Int8(bitPattern: src[i]))
            case .int16:
              out[i] = Int32(Int16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self).bigEndian))
            default: out[i] = Int32(bitPattern: src.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self).bigEndian)
            }
          }
        }
        initialized = n
      }
      return try SampleArray(shape: shape, int32: values)
    case .float32, .float64:
      return try SampleArray(shape: shape, float32: floats(dividingBy: divisor))
    }
  }

  /// Reads an IDX file into samples of its own element type (see `samples(dividingBy:)`).
  public static func readSamples(_ url: URL, dividingBy divisor: Float = 1, maxItems: Int? = nil) throws
    -> SampleArray
  {
    try IDXFile(contentsOf: url, maxItems: maxItems).samples(dividingBy: divisor)
  }

  /// Reads an IDX file straight into a tensor (at most `maxItems` items along the first axis).
  public static func readTensor(_ url: URL, dividingBy divisor: Float = 1, maxItems: Int? = nil) throws
    -> Tensor
  {
    try IDXFile(contentsOf: url, maxItems: maxItems).tensor(dividingBy: divisor)
  }

  /// The header and the first `items` items of a gzipped IDX file, decompressing no further.
  static func decompressPrefix(_ bytes: [UInt8], items: Int, source: String) throws -> [UInt8] {
    let head = try Gzip.gunzipPrefix(bytes, count: 4, source: source)
    guard head.count == 4 else {
      throw DLPError.data("\(source): IDX file of \(head.count) bytes has no header")
    }
    let rank = Int(head[3])
    let headerBytes = 4 + 4 * rank
    let header = try Gzip.gunzipPrefix(bytes, count: headerBytes, source: source)
    guard rank >= 1, header.count == headerBytes, let type = ElementType(rawValue: head[2]) else {
      // Let the full parse name what is wrong.
      return try Gzip.gunzip(bytes, source: source)
    }
    var dims: [Int] = []
    for a in 0..<rank {
      let o = 4 + 4 * a
      dims.append(Int(header[o]) << 24 | Int(header[o + 1]) << 16 | Int(header[o + 2]) << 8 | Int(header[o + 3]))
    }
    guard let row = Array(dims.dropFirst()).checkedProduct,
      case (let rowBytes, false) = row.multipliedReportingOverflow(by: type.size),
      case (let itemBytes, false) = rowBytes.multipliedReportingOverflow(by: min(dims[0], max(items, 0)))
    else { return try Gzip.gunzip(bytes, source: source) }
    return try Gzip.gunzipPrefix(bytes, count: headerBytes + itemBytes, source: source)
  }
}
