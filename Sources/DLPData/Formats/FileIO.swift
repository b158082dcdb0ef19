import DLPTensor
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whole-file reads and atomic writes, with errors that name the file.
public enum FileIO {
  /// Reads a whole file into memory.
  ///
  /// Dataset files are at most a few hundred megabytes, and every parser here wants random access
  /// to the bytes, so reading them whole is both the simplest and the fastest choice.
  public static func readBytes(_ url: URL) throws -> [UInt8] {
    let data: Data
    do {
      data = try Data(contentsOf: url, options: .mappedIfSafe)
    } catch {
      throw DLPError.io("cannot read \(url.path): \(error.localizedDescription)")
    }
    return [UInt8](data)
  }

  /// Writes `bytes` to `url` atomically: to a temporary file in the same folder, flushed, then
  /// renamed over the destination.
  ///
  /// A rename within one file system is atomic, so a reader (or a crash) never sees a half-written
  /// weights file or report; the temporary file lives next to the destination because a rename
  /// across file systems would not be atomic. The file is fsynced before the rename and the
  /// folder after it.
  public static func writeAtomically(_ bytes: [UInt8], to url: URL) throws {
    let directory = url.deletingLastPathComponent()
    let temporary = directory.appendingPathComponent(
      ".\(url.lastPathComponent).tmp-\(getpid())-\(UInt32.random(in: 0...UInt32.max))")
    let fd = open(temporary.path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard fd >= 0 else {
      throw DLPError.io("cannot create \(temporary.path): \(String(cString: strerror(errno)))")
    }
    var failure: String?
    bytes.withUnsafeBytes { raw in
      var offset = 0
      while offset < raw.count {
        let written = write(fd, raw.baseAddress! + offset, raw.count - offset)
        if written < 0 {
          if errno == EINTR { continue }
          failure = String(cString: strerror(errno))
          return
        }
        offset += written
      }
    }
    if failure == nil, fsync(fd) != 0 { failure = String(cString: strerror(errno)) }
    if close(fd) != 0, failure == nil { failure = String(cString: strerror(errno)) }
    if failure == nil, rename(temporary.path, url.path) != 0 {
      failure = String(cString: strerror(errno))
    }
    if let failure {
      unlink(temporary.path)
      throw DLPError.io("cannot write \(url.path): \(failure)")
    }
    // The rename itself survives a crash only once the folder's entry is on disk.
    syncDirectory(directory)
  }

  /// Flushes a folder's entries (a rename or unlink in it) to disk; best effort.
  public static func syncDirectory(_ directory: URL) {
    let fd = open(directory.path, O_RDONLY | O_DIRECTORY)
    guard fd >= 0 else { return }
    _ = fsync(fd)
    close(fd)
  }

  /// Writes `data` atomically (see `writeAtomically(_:to:)` for `[UInt8]`).
  public static func writeAtomically(_ data: Data, to url: URL) throws {
    try writeAtomically([UInt8](data), to: url)
  }
}
