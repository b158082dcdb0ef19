import Foundation

/// An event file as TensorFlow's summary writer makes it: `DIR/events.out.tfevents.<seconds,
/// 10 digits>.<host>.<pid>.<n>.v2`, TFRecord-framed `Event`s, the first the file-version event.
/// Records are appended as they come and flushed at each epoch's end, so TensorBoard can follow
/// a run while it trains (an event file is a log, read incrementally, not a report).
public final class EventFileWriter {
  public let path: String
  private let handle: FileHandle
  private var pending: [UInt8] = []
  nonisolated(unsafe) private static var counter = 0
  private static let lock = NSLock()

  public init(directory: String, now: Date = Date()) throws {
    do {
      try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw DLPError.io("cannot create the TensorBoard log folder \(directory): \(error.localizedDescription)")
    }
    let n = Self.lock.withLock { () -> Int in
      Self.counter += 1
      return Self.counter - 1
    }
    let seconds = String(format: "%010lld", Int64(now.timeIntervalSince1970))
    let host = ProcessInfo.processInfo.hostName
    path =
      URL(fileURLWithPath: directory).appendingPathComponent(
        "events.out.tfevents.\(seconds).\(host).\(getpid()).\(n).v2"
      ).path
    guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
      throw DLPError.io("cannot create the TensorBoard event file \(path)")
    }
    handle = h
    append(EventMessages.fileVersionEvent(wallTime: now.timeIntervalSince1970))
    try flush()
  }

  deinit { try? handle.close() }

  /// Queues one packed `Event`.
  public func append(_ event: [UInt8]) { pending += TFRecord.frame(event) }

  public func scalar(_ tag: String, _ value: Double, step: Int) {
    append(
      EventMessages.scalarEvent(
        tag: tag, value: Float(value), step: Int64(step), wallTime: Date().timeIntervalSince1970))
  }

  /// Writes what is queued.
  public func flush() throws {
    guard !pending.isEmpty else { return }
    do {
      try handle.write(contentsOf: pending)
    } catch {
      throw DLPError.io("cannot write the TensorBoard event file \(path): \(error.localizedDescription)")
    }
    pending.removeAll(keepingCapacity: true)
  }

  public func close() throws {
    try flush()
    try handle.close()
  }
}
