import DLPTensor
import Foundation

/// A read-only zip archive, entries stored or deflated: what `.npz` (numpy) and `.keras`
/// (Keras 3) files are.
///
/// The central directory is authoritative for names and sizes (numpy's `savez` forces zip64 local
/// headers whose size fields are placeholders). Per-entry zip64 size fields are understood;
/// archives that need a zip64 end record (over 4 GiB or 65535 entries) are refused clearly.
public struct ZipArchive: Sendable {
  /// One member of the archive, as the central directory describes it.
  public struct Entry: Sendable, Equatable {
    public let name: String
    /// 0: stored, 8: deflated.
    public let method: Int
    public let compressedSize: Int
    public let uncompressedSize: Int
    public let crc32: UInt32
    let localHeaderOffset: Int
  }

  public let source: String
  public let entries: [Entry]
  let bytes: [UInt8]

  public init(contentsOf url: URL) throws {
    try self.init(bytes: try FileIO.readBytes(url), source: url.path)
  }

  public init(bytes: [UInt8], source: String) throws {
    self.bytes = bytes
    self.source = source
    var reader = ByteReader(bytes, source: source)
    let end = try ZipArchive.findEndRecord(bytes, source: source)
    try reader.seek(to: end + 4)
    _ = try reader.u16("disk number")
    _ = try reader.u16("central directory disk")
    _ = try reader.u16("entries on this disk")
    let count = try reader.u16("entry count")
    let size = try reader.u32("central directory size")
    let start = try reader.u32("central directory offset")
    let zip64Locator = end >= 20 && Array(bytes[end - 20..<end - 16]) == [0x50, 0x4B, 0x06, 0x07]
    guard count != 0xFFFF, size != 0xFFFF_FFFF, start != 0xFFFF_FFFF, !zip64Locator else {
      throw DLPError.data(
        "\(source): zip64 archives (over 4 GiB or 65535 entries) are not supported")
    }
    guard start <= end, size <= end - start else {
      throw DLPError.data("\(source): central directory lies outside the file (truncated?)")
    }
    try reader.seek(to: start)
    var entries: [Entry] = []
    for i in 0..<count {
      entries.append(try ZipArchive.readCentralEntry(&reader, index: i))
    }
    self.entries = entries
  }

  /// The entry called `name`, if any.
  public func entry(named name: String) -> Entry? { entries.first { $0.name == name } }

  /// The uncompressed bytes of the entry called `name`.
  public func data(named name: String) throws -> [UInt8] {
    guard let e = entry(named: name) else {
      throw DLPError.data(
        "\(source): no entry '\(name)' (the archive holds: \(entries.map(\.name).joined(separator: ", ")))")
    }
    return try data(of: e)
  }

  /// The uncompressed bytes of an entry, CRC-checked.
  public func data(of entry: Entry) throws -> [UInt8] {
    let entrySource = "\(source)[\(entry.name)]"
    var reader = ByteReader(bytes, source: entrySource)
    try reader.seek(to: entry.localHeaderOffset)
    guard try reader.littleEndian(4, "local header") == 0x0403_4B50 else {
      throw reader.failure("bad local header signature")
    }
    try reader.skip(22, "local header")
    let nameLength = try reader.u16("name length")
    let extraLength = try reader.u16("extra length")
    try reader.skip(nameLength + extraLength, "local header name")
    let stored = try reader.take(entry.compressedSize, "entry data (truncated archive?)")
    let out: [UInt8]
    switch entry.method {
    case 0:
      guard entry.compressedSize == entry.uncompressedSize else {
        throw DLPError.data("\(entrySource): stored entry with differing sizes")
      }
      out = Array(stored)
    case 8:
      // Deflate cannot expand more than about 1032:1; a larger claim is a corrupt header or a
      // decompression bomb, refused before allocating anything.
      guard entry.uncompressedSize / 1032 <= entry.compressedSize + 1 else {
        throw DLPError.data(
          "\(entrySource): implausible uncompressed size \(entry.uncompressedSize)")
      }
      out = try Gzip.inflateRaw(stored, expectedSize: entry.uncompressedSize, source: entrySource)
    default:
      throw DLPError.data(
        "\(entrySource): compression method \(entry.method) is not supported (only stored and deflated)"
      )
    }
    guard Gzip.crc32(out[...]) == entry.crc32 else {
      throw DLPError.data("\(entrySource): CRC-32 mismatch (corrupt archive)")
    }
    return out
  }

  /// Finds the end-of-central-directory record, which ends with a comment of up to 64 KiB.
  static func findEndRecord(_ bytes: [UInt8], source: String) throws -> Int {
    guard bytes.count >= 22 else {
      throw DLPError.data("\(source): too short to be a zip archive (\(bytes.count) bytes)")
    }
    var i = bytes.count - 22
    let lowest = max(0, bytes.count - 22 - 65535)
    while i >= lowest {
      if bytes[i] == 0x50, bytes[i + 1] == 0x4B, bytes[i + 2] == 0x05, bytes[i + 3] == 0x06 {
        return i
      }
      i -= 1
    }
    throw DLPError.data("\(source): not a zip archive (no end-of-central-directory record)")
  }

  static func readCentralEntry(_ reader: inout ByteReader, index: Int) throws -> Entry {
    guard try reader.littleEndian(4, "central directory entry \(index)") == 0x0201_4B50 else {
      throw reader.failure("bad central directory entry \(index)")
    }
    try reader.skip(4, "central directory entry")
    let flags = try reader.u16("flags")
    let method = try reader.u16("method")
    try reader.skip(4, "central directory entry")
    let crc = UInt32(try reader.littleEndian(4, "crc"))
    var compressed = try reader.u32("compressed size")
    var uncompressed = try reader.u32("uncompressed size")
    let nameLength = try reader.u16("name length")
    let extraLength = try reader.u16("extra length")
    let commentLength = try reader.u16("comment length")
    try reader.skip(8, "central directory entry")
    var offset = try reader.u32("local header offset")
    let name = String(decoding: try reader.take(nameLength, "entry name"), as: UTF8.self)
    var extra = ByteReader(
      Array(try reader.take(extraLength, "extra field")), source: reader.source)
    try reader.skip(commentLength, "comment")
    guard flags & 1 == 0 else { throw reader.failure("entry '\(name)' is encrypted") }
    // Zip64 extended information: 64-bit values for exactly the fields that read 0xFFFFFFFF.
    while extra.remaining >= 4 {
      let id = try extra.u16("extra id")
      let size = try extra.u16("extra size")
      guard id == 0x0001 else {
        try extra.skip(size, "extra field")
        continue
      }
      var zip64 = ByteReader(Array(try extra.take(size, "zip64 field")), source: reader.source)
      func wide(_ field: inout Int) throws {
        guard field == 0xFFFF_FFFF else { return }
        let value = try zip64.littleEndian(8, "zip64 size")
        guard value < UInt64(Int.max) else { throw reader.failure("zip64 size too large") }
        field = Int(value)
      }
      try wide(&uncompressed)
      try wide(&compressed)
      try wide(&offset)
    }
    return Entry(
      name: name, method: method, compressedSize: compressed, uncompressedSize: uncompressed,
      crc32: crc, localHeaderOffset: offset)
  }
}
