import DLPTensor
import Foundation

/// Writes zip archives of stored (uncompressed) entries: `.npz` for numpy (`NPZWriter`) and
/// `.keras` for Keras 3 (which stores its entries uncompressed too).
///
/// Entries are stored, not deflated: weights barely compress, and stored entries keep writing
/// and reading as fast as copying memory. The output is deterministic (fixed timestamps).
public struct ZipWriter: Sendable {
  private var names: [String] = []
  private var payloads: [[UInt8]] = []

  public init() {}

  /// The entry names added so far, in order.
  public var entryNames: [String] { names }

  /// Adds an entry; names must be unique and not empty.
  public mutating func add(entry name: String, bytes: [UInt8]) throws {
    guard !name.isEmpty, !names.contains(name) else {
      throw DLPError.data(
        name.isEmpty ? "zip entry names must not be empty" : "duplicate zip entry name '\(name)'")
    }
    names.append(name)
    payloads.append(bytes)
  }

  /// The archive bytes.
  public func archiveBytes() throws -> [UInt8] {
    var out: [UInt8] = []
    var central: [UInt8] = []
    for (name, payload) in zip(names, payloads) {
      let fileName = Array(name.utf8)
      let offset = out.count
      guard payload.count < 0xFFFF_FFFF, offset < 0xFFFF_FFFF, fileName.count < 0xFFFF else {
        throw DLPError.data(
          "archive too large for a zip without zip64 (entry '\(name)': \(payload.count) bytes)")
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
      throw DLPError.data("archive too large for a zip without zip64 (\(names.count) entries)")
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

/// Writes `.npz` archives that `np.load` opens: one stored `.npy` entry per array.
///
/// Used for `--save-weights` (entries named `LAYER/WEIGHT.npy`; a `/` in a zip entry name is
/// fine and `np.load` gives it back as the key `LAYER/WEIGHT`) and for `dlp predict` outputs.
public struct NPZWriter: Sendable {
  private var archive = ZipWriter()
  private var names: [String] = []

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
    try archive.add(entry: name + ".npy", bytes: try array.npyBytes())
    names.append(name)
  }

  /// Adds a tensor as a float32 array.
  public mutating func add(_ name: String, _ tensor: Tensor) throws {
    try add(name, NPYArray(tensor))
  }

  /// The archive bytes.
  public func archiveBytes() throws -> [UInt8] { try archive.archiveBytes() }

  /// Writes the archive atomically.
  public func write(to url: URL) throws { try archive.write(to: url) }
}

extension Array where Element == UInt8 {
  /// Appends a little-endian integer.
  fileprivate mutating func le<T: FixedWidthInteger>(_ value: T) {
    Swift.withUnsafeBytes(of: value.littleEndian) { append(contentsOf: $0) }
  }
}
