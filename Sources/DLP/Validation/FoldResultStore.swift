import Foundation

/// Finished fold tasks of a sweep on disk (`dlp kfold --checkpoint-dir D`), one JSON file per
/// task written atomically as it finishes, with the sweep's flags: `--resume D` skips the tasks
/// found there (refusing a sweep whose flags differ), so a sweep stopped half way costs only
/// its unfinished tasks.
public struct FoldResultStore: Sendable {
  public let directory: URL

  public init(directory: String) {
    self.directory = URL(fileURLWithPath: directory)
  }

  struct Entry: Codable {
    var flags: [String: String]
    var result: FoldResult
  }

  static func name(repeat r: Int, fold: Int) -> String { "fold-r\(r)-f\(fold).json" }

  static var encoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  public func write(_ result: FoldResult, flags: [String: String]) throws {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw DLPError.io("cannot create the checkpoint folder \(directory.path): \(error.localizedDescription)")
    }
    let url = directory.appendingPathComponent(Self.name(repeat: result.repeat, fold: result.fold))
    try FileIO.writeAtomically(try Self.encoder.encode(Entry(flags: flags, result: result)), to: url)
  }

  /// The results saved for `tasks` (by repeat and fold); unreadable files are skipped with a
  /// warning, a file of a sweep with other flags is refused, naming the flag.
  public func results(for tasks: [FoldTask], flags: [String: String], warn: (String) -> Void) throws -> [FoldResult?] {
    let decoder = JSONDecoder()
    decoder.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return try tasks.map { t in
      let url = directory.appendingPathComponent(Self.name(repeat: t.repeat, fold: t.fold))
      guard FileManager.default.fileExists(atPath: url.path) else { return nil }
      let entry: Entry
      do {
        entry = try decoder.decode(Entry.self, from: Data(try FileIO.readBytes(url)))
      } catch {
        warn("skipping \(url.lastPathComponent): \(error)")
        return nil
      }
      if let different = JobFlags.difference(saved: entry.flags, now: flags) {
        throw DLPError.config("cannot resume the sweep from \(url.path): \(different)")
      }
      guard entry.result.repeat == t.repeat, entry.result.fold == t.fold else {
        warn("skipping \(url.lastPathComponent): it holds repeat \(entry.result.repeat), fold \(entry.result.fold)")
        return nil
      }
      return entry.result
    }
  }
}
