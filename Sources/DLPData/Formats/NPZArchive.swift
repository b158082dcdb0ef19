import DLPTensor
import Foundation

/// A read-only `.npz` archive: a zip file (`ZipArchive`) of `.npy` entries.
public struct NPZArchive: Sendable {
  public typealias Entry = ZipArchive.Entry
  public let zip: ZipArchive

  public init(contentsOf url: URL) throws {
    zip = try ZipArchive(contentsOf: url)
  }

  public init(bytes: [UInt8], source: String) throws {
    zip = try ZipArchive(bytes: bytes, source: source)
  }

  public var source: String { zip.source }
  public var entries: [Entry] { zip.entries }

  /// The array names: entry names without their `.npy` suffix, in archive order.
  public var arrayNames: [String] {
    entries.map(\.name).filter { $0.hasSuffix(".npy") }.map { String($0.dropLast(4)) }
  }

  public func contains(_ arrayName: String) -> Bool { zip.entry(named: arrayName + ".npy") != nil }

  /// The array stored as `NAME.npy`.
  public func array(_ name: String) throws -> NPYArray {
    guard let entry = zip.entry(named: name + ".npy") else {
      throw DLPError.data(
        "\(source): no array '\(name)' (the archive holds: \(arrayNames.joined(separator: ", ")))")
    }
    return try NPYArray(npyBytes: try zip.data(of: entry), source: "\(source)[\(entry.name)]")
  }

  /// The uncompressed bytes of an entry, CRC-checked.
  public func data(of entry: Entry) throws -> [UInt8] { try zip.data(of: entry) }

  static func findEndRecord(_ bytes: [UInt8], source: String) throws -> Int {
    try ZipArchive.findEndRecord(bytes, source: source)
  }
}
