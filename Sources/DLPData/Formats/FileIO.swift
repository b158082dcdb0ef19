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
  /// to the bytes, so reading them whole is both the simplest and the fastest choice. They are
  /// read straight into the array (no mapping copied into a second buffer: a 26 MB gzipped
  /// image file would otherwise sit in memory twice while it is decompressed).
  public static func readBytes(_ url: URL) throws -> [UInt8] {
    let fd = open(url.path, O_RDONLY)
    guard fd >= 0 else { throw DLPError.io("cannot read \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else { throw DLPError.io("cannot read \(url.path): \(String(cString: strerror(errno)))") }
    guard info.st_mode & S_IFMT == S_IFREG else { throw DLPError.io("cannot read \(url.path): not a regular file") }
    var failure: String?
    // A file that grows while it is read is cut at the size fstat gave; one that shrinks ends early.
    let size = Int(info.st_size)
    let bytes = [UInt8](unsafeUninitializedCapacity: size) { buffer, initialized in
      var offset = 0
      while offset < size {
        let got = read(fd, buffer.baseAddress! + offset, size - offset)
        if got < 0 {
          if errno == EINTR { continue }
          failure = String(cString: strerror(errno))
          break
        }
        if got == 0 { break }
        offset += got
      }
      initialized = offset
    }
    if let failure { throw DLPError.io("cannot read \(url.path): \(failure)") }
    return bytes
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
