import Foundation

/// A fit's commit on disk, complete enough to continue exactly: the weights, every optimizer
/// slot, the optimizer's step count and learning rate, where the loop was (`FitProgress`:
/// epoch, batch, the epoch orders drawn, the steps that key dropout, the history so far) and
/// the job's flags, so that a resumed job with other flags is refused.
///
/// File layout (little-endian): the magic `DLPCKPT1`, the header's byte count (UInt64), the
/// header (JSON), the float count (UInt64), the floats (weights, then each slot), and an XXH64
/// of every byte before it. A torn or corrupt file fails the checksum or a size check.
public struct Checkpoint: Sendable {
  public var state: TrainingState
  public var progress: FitProgress.Saved
  /// The flags that decide the job's result, by name (`--batch-size` -> "128").
  public var flags: [String: String]

  public init(state: TrainingState, progress: FitProgress.Saved, flags: [String: String]) {
    self.state = state
    self.progress = progress
    self.flags = flags
  }

  static let magic = Array("DLPCKPT1".utf8)

  struct Header: Codable {
    var format = 1
    var flags: [String: String]
    var progress: FitProgress.Saved
    var iterations: Int
    var learningRate: Float
    var parameters: Int
    var slots: Int
  }

  static var encoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return e
  }

  static var decoder: JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
    return d
  }

  /// The file's bytes.
  public func encoded() throws -> [UInt8] {
    let header = Header(
      flags: flags, progress: progress, iterations: state.iterations, learningRate: state.learningRate,
      parameters: state.weights.count, slots: state.slots.count)
    let json = [UInt8](try Self.encoder.encode(header))
    var out = Self.magic
    out.reserveCapacity(32 + json.count + 4 * state.weights.count * (1 + state.slots.count))
    func u64(_ v: UInt64) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
    u64(UInt64(json.count))
    out.append(contentsOf: json)
    u64(UInt64(state.weights.count * (1 + state.slots.count)))
    for a in [state.weights] + state.slots { a.withUnsafeBytes { out.append(contentsOf: $0) } }
    let sum = out.withUnsafeBytes { XXH64.hash($0) }
    u64(sum)
    return out
  }

  /// Parses a checkpoint file's bytes, checking every size and the checksum.
  public init(bytes: [UInt8], source: String) throws {
    func bad(_ why: String) -> DLPError { DLPError.data("\(source) is not a valid checkpoint: \(why)") }
    guard bytes.count >= 32, Array(bytes[0..<8]) == Self.magic else { throw bad("no DLPCKPT1 header") }
    func u64(_ at: Int) -> UInt64 {
      bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(fromByteOffset: at, as: UInt64.self)) }
    }
    let stored = u64(bytes.count - 8)
    let sum = bytes.withUnsafeBytes { XXH64.hash(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 8)])) }
    guard stored == sum else { throw bad("checksum mismatch (torn or corrupt)") }
    let jsonCount = u64(8)
    guard jsonCount <= UInt64(bytes.count - 32) else { throw bad("header length \(jsonCount) past the end") }
    let jsonEnd = 16 + Int(jsonCount)
    let header: Header
    do {
      header = try Self.decoder.decode(Header.self, from: Data(bytes[16..<jsonEnd]))
    } catch {
      throw bad("unreadable header: \(error)")
    }
    let floats = u64(jsonEnd)
    guard header.format == 1, header.parameters >= 0, header.slots >= 0, header.slots <= 8,
      floats == UInt64(header.parameters) * UInt64(1 + header.slots),
      UInt64(bytes.count) == UInt64(jsonEnd + 16) + floats * 4
    else { throw bad("sizes do not agree (\(header.parameters) weights, \(header.slots) slots, \(floats) floats)") }
    let p = header.parameters
    var arrays: [[Float]] = []
    bytes.withUnsafeBytes { raw in
      for k in 0...header.slots {
        let start = jsonEnd + 8 + 4 * k * p
        arrays.append(
          [Float](unsafeUninitializedCapacity: p) { b, n in
            if p > 0 { UnsafeMutableRawPointer(b.baseAddress!).copyMemory(from: raw.baseAddress! + start, byteCount: 4 * p) }
            n = p
          })
      }
    }
    state = TrainingState(
      weights: arrays[0], slots: Array(arrays.dropFirst()), iterations: header.iterations,
      learningRate: header.learningRate)
    progress = header.progress
    flags = header.flags
  }

  /// The first flag whose value differs from `flags` (both ways), described for an error.
  public func mismatch(with flags: [String: String]) -> String? { JobFlags.difference(saved: self.flags, now: flags) }
}

/// The flags that decide a job's result, by name, as saved work records them.
public enum JobFlags {
  /// The first flag (in name order) whose value differs, described for an error.
  public static func difference(saved: [String: String], now: [String: String]) -> String? {
    for key in Set(saved.keys).union(now.keys).sorted() where saved[key] != now[key] {
      return "--\(key) is \(now[key].map { "'\($0)'" } ?? "not given") now, the saved job had \(saved[key].map { "'\($0)'" } ?? "none")"
    }
    return nil
  }
}

/// A folder of checkpoints (`--checkpoint-dir`): written atomically (temporary file, fsync,
/// rename, fsync of the folder), the newest `keep` kept, and the newest valid one found again
/// (a torn or corrupt file is skipped with a warning).
public struct CheckpointStore: Sendable {
  public let directory: URL
  public let keep: Int

  public init(directory: String, keep: Int = 3) throws {
    guard keep >= 1 else { throw DLPError.config("--keep-checkpoints must be >= 1. Received: \(keep)") }
    self.directory = URL(fileURLWithPath: directory)
    self.keep = keep
  }

  /// `checkpoint-<steps>.dlpckpt`: names sort in step order.
  static func name(steps: UInt64) -> String {
    let digits = String(steps)
    return "checkpoint-" + String(repeating: "0", count: max(0, 14 - digits.count)) + digits + ".dlpckpt"
  }

  /// Writes `checkpoint` and removes all but the newest `keep`. Returns the file's path.
  @discardableResult
  public func write(_ checkpoint: Checkpoint) throws -> String {
    do {
      try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    } catch {
      throw DLPError.io("cannot create the checkpoint folder \(directory.path): \(error.localizedDescription)")
    }
    let url = directory.appendingPathComponent(Self.name(steps: checkpoint.progress.stepsDone))
    try FileIO.writeAtomically(try checkpoint.encoded(), to: url)
    let old = files().dropFirst(keep)
    for f in old { try? FileManager.default.removeItem(at: f) }
    if !old.isEmpty { FileIO.syncDirectory(directory) }
    return url.path
  }

  /// The checkpoint files, newest first.
  public func files() -> [URL] {
    let names = (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? []
    return names.filter { $0.hasPrefix("checkpoint-") && $0.hasSuffix(".dlpckpt") }.sorted(by: >)
      .map { directory.appendingPathComponent($0) }
  }

  /// The newest checkpoint that reads back whole, and its path; `warn` hears about the ones
  /// skipped. Nil when there is none.
  public func newest(warn: (String) -> Void) -> (checkpoint: Checkpoint, path: String)? {
    for f in files() {
      do {
        return (try Checkpoint(bytes: try FileIO.readBytes(f), source: f.path), f.path)
      } catch {
        warn("skipping \(f.lastPathComponent): \(error)")
      }
    }
    return nil
  }
}
