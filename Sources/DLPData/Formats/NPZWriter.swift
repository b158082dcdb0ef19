import DLPTensor
import Foundation

/// Writes `.npz` archives that `np.load` opens: one stored (uncompressed) `.npy` entry per array.
///
/// Used for `--save-weights` (entries named `LAYER/WEIGHT.npy`; a `/` in a zip entry name is
/// fine and `np.load` gives it back as the key `LAYER/WEIGHT`) and for `dlp predict` outputs.
/// Entries are stored, not deflated: weights barely compress, and stored entries keep writing
/// and reading as fast as copying memory. The output is deterministic (fixed timestamps).
public struct NPZWriter: Sendable {
  private var names: [String] = []
  private var arrays: [NPYArray] = []

  public init() {}

  /// The array names added so far, in order.
  public var arrayNames: [String] { names }

  /// Adds an array under `name` (written as `name.npy`); names must be unique.
  public mutating func add(_ name: String, _ array: NPYArray) throws {
    guard !name.isEmpty, !names.contains(name) else {
      throw DLPError.data(
        name.isEmpty ? "npz array names must not be empty" : "duplicate npz array name '\(name)'")
    }
    guard array.dtype != .object else {
      throw DLPError.data("cannot write object array '\(name)' (numpy would need a pickle)")
    }
    names.append(name)
    arrays.append(array)
  }

  /// Adds a tensor as a float32 array.
  public mutating func add(_ name: String, _ tensor: Tensor) throws {
    try add(name, NPYArray(tensor))
  }

  /// The archive bytes.
  public func archiveBytes() throws -> [UInt8] {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, array) in zip(names, arrays) {
      let payload = try array.npyBytes()
      let fileName = Array((name + ".npy").utf8)
      let offset = out.count
      guard payload.count < 0xFFFF_FFFF, offset < 0xFFFF_FFFF, fileName.count < 0xFFFF else {
        throw DLPError.data(
          "npz too large for a zip without zip64 (array '\(name)': \(payload.count) bytes)")
      }
      let crc = Gzip.crc32(payload[...])
      // Bit 11 says the name is UTF-8, so non-ASCII layer names survive.
      let flags: UInt16 = fileName.allSatisfy { $0 < 0x80 } ? 0 : 0x0800
      var common: [UInt8] = []
      common.le(UInt16(20))  // version needed: 2.0
      common.le(flags)
      common.le(UInt16(0))  // method: stored
      common.le(UInt16(0))  // time 00:00:00
      common.le(UInt16(0x21))  // date 1980-01-01: deterministic output
      common.le(crc)
      common.le(UInt32(payload.count))  // compressed size
      common.le(UInt32(payload.count))  // uncompressed size
      common.le(UInt16(fileName.count))
      common.le(UInt16(0))  // extra length

      out.le(UInt32(0x0403_4B50))
      out += common
      out += fileName
      out += payload

      central.le(UInt32(0x0201_4B50))
      central.le(UInt16(0x0314))  // made by: Unix, 2.0 (so the permission bits mean something)
      central += common
      central.le(UInt16(0))  // comment length
      central.le(UInt16(0))  // disk number
      central.le(UInt16(0))  // internal attributes
      central.le(UInt32(0o100644) << 16)  // external attributes: a regular file, rw-r--r--
      central.le(UInt32(offset))
      central += fileName
    }
    guard names.count < 0xFFFF, out.count < 0xFFFF_FFFF else {
      throw DLPError.data("npz too large for a zip without zip64 (\(names.count) arrays)")
    }
    let centralOffset = out.count
    out += central
    out.le(UInt32(0x0605_4B50))
    out.le(UInt16(0))  // this disk
    out.le(UInt16(0))  // disk with the central directory
    out.le(UInt16(names.count))
    out.le(UInt16(names.count))
    out.le(UInt32(central.count))
    out.le(UInt32(centralOffset))
    out.le(UInt16(0))  // comment length
    return out
  }

  /// Writes the archive atomically (temporary file in the same folder, then rename), so a
  /// reader never sees a partial file.
  public func write(to url: URL) throws {
    try FileIO.writeAtomically(try archiveBytes(), to: url)
  }
}

extension Array where Element == UInt8 {
  /// Appends a little-endian integer.
  fileprivate mutating func le<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }
}
