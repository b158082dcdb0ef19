import CZMQ
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// A POSIX shared-memory segment (`shm_open` + `mmap`) holding float32 slots, created by one
/// rank and mapped read-only by its peers on the same host.
///
/// Layout: one 4 KiB header page (magic, owner token, rank, slot count and size; at byte 64 the
/// mailbox's sequence word, at byte 128 its two records), then the slots, each `slotFloats`
/// floats, 64-byte aligned. The owner writes the magic last, so a peer
/// that opens the segment before it is ready sees no magic and retries; the token (the job or
/// group id) tells a stale segment of another job from ours.
///
/// The name is unlinked as soon as every peer has mapped it (`unlink`), so a process that dies
/// later leaves nothing in `/dev/shm`; the mapping lives until `close`.
final class SharedSegment: @unchecked Sendable {
  static let headerBytes = 4096
  static let magic: UInt64 = 0x444C_5053_484D_3031  // "DLPSHM01"

  let name: String
  let slotFloats: Int
  let slots: Int
  let writable: Bool
  private(set) var base: UnsafeMutableRawPointer?
  let byteCount: Int
  private var linked: Bool

  /// The segment name for `rank` of the collective `token` (names are global to the host).
  static func name(prefix: String, token: UInt64, rank: Int) -> String {
    "/\(prefix)-\(String(token, radix: 16))-r\(rank)"
  }

  static func bytes(slotFloats: Int, slots: Int) -> Int {
    headerBytes + slots * ((slotFloats * 4 + 63) / 64 * 64)
  }

  /// Creates (exclusively) and maps the segment read-write, then publishes its header.
  init(creating name: String, token: UInt64, rank: Int, slotFloats: Int, slots: Int) throws {
    self.name = name
    self.slotFloats = slotFloats
    self.slots = slots
    writable = true
    byteCount = Self.bytes(slotFloats: slotFloats, slots: slots)
    let fd = shm_open(name, O_CREAT | O_EXCL | O_RDWR, 0o600)
    guard fd >= 0 else {
      throw TransportError.invalidArgument(
        "cannot create the shared-memory segment \(name): \(String(cString: strerror(errno)))")
    }
    defer { Glibc.close(fd) }
    linked = true
    guard ftruncate(fd, off_t(byteCount)) == 0 else {
      let e = errno
      shm_unlink(name)
      throw TransportError.invalidArgument(
        "cannot size the shared-memory segment \(name) to \(byteCount) bytes: \(String(cString: strerror(e)))"
      )
    }
    guard let p = mmap(nil, byteCount, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), p != MAP_FAILED
    else {
      let e = errno
      shm_unlink(name)
      throw TransportError.invalidArgument(
        "cannot map the shared-memory segment \(name): \(String(cString: strerror(e)))")
    }
    base = p
    let h = p.assumingMemoryBound(to: UInt64.self)
    h[1] = token
    h[2] = UInt64(rank)
    h[3] = UInt64(slotFloats)
    h[4] = UInt64(slots)
    // Publish: a reader that sees the magic sees the fields before it.
    dlp_store_release_u64(h, Self.magic)
  }

  /// Maps a peer's segment read-only once it exists and carries the expected header; retries
  /// until `timeout` (the peer may not have created it yet).
  init(
    opening name: String, token: UInt64, rank: Int, slotFloats: Int, slots: Int, timeout: Double,
    cancellation: Cancellation?
  ) throws {
    self.name = name
    self.slotFloats = slotFloats
    self.slots = slots
    writable = false
    linked = false
    byteCount = Self.bytes(slotFloats: slotFloats, slots: slots)
    let deadline = Date(timeIntervalSinceNow: timeout)
    var last = "it does not exist"
    while true {
      if let p = Self.tryMap(name: name, bytes: byteCount, problem: &last) {
        let h = UnsafeRawPointer(p).assumingMemoryBound(to: UInt64.self)
        if dlp_load_acquire_u64(h) == Self.magic {
          guard h[1] == token, h[2] == UInt64(rank), h[3] == UInt64(slotFloats), h[4] == UInt64(slots)
          else {
            munmap(p, byteCount)
            throw TransportError.malformed(
              peer: rank,
              "shared-memory segment \(name) belongs to another collective (token \(String(h[1], radix: 16)), rank \(h[2]), \(h[3]) x \(h[4]) floats)"
            )
          }
          base = p
          return
        }
        munmap(p, byteCount)
        last = "its owner has not finished setting it up"
      }
      if cancellation?.isCancelled == true { throw TransportError.cancelled(operation: "opening the shared-memory segment \(name)") }
      guard Date() < deadline else {
        throw TransportError.timeout(
          peer: rank, operation: "opening the shared-memory segment \(name) (\(last))",
          seconds: timeout)
      }
      usleep(2000)
    }
  }

  private static func tryMap(name: String, bytes: Int, problem: inout String)
    -> UnsafeMutableRawPointer?
  {
    let fd = shm_open(name, O_RDONLY, 0)
    guard fd >= 0 else {
      problem = errno == ENOENT ? "it does not exist" : String(cString: strerror(errno))
      return nil
    }
    defer { Glibc.close(fd) }
    var st = stat()
    guard fstat(fd, &st) == 0, Int(st.st_size) == bytes else {
      problem = "it has \(st.st_size) bytes, expected \(bytes)"
      return nil
    }
    guard let p = mmap(nil, bytes, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else {
      problem = String(cString: strerror(errno))
      return nil
    }
    return p
  }

  /// The mailbox's sequence word: how many announcements the owner has published.
  var sequence: UnsafeMutablePointer<UInt32> {
    (base! + 64).assumingMemoryBound(to: UInt32.self)
  }

  /// Mailbox record `index` (0 or 1): what announcement number n (kept in record n % 2) says.
  func record(_ index: Int) -> UnsafeMutablePointer<MailboxRecord> {
    (base! + 128 + 64 * (index & 1)).assumingMemoryBound(to: MailboxRecord.self)
  }

  /// Slot `index` as floats.
  func slot(_ index: Int) -> UnsafeMutablePointer<Float> {
    precondition(index >= 0 && index < slots, "slot \(index) of \(slots)")
    let stride = (slotFloats * 4 + 63) / 64 * 64
    return (base! + Self.headerBytes + index * stride).assumingMemoryBound(to: Float.self)
  }

  /// Removes the name (the mapping stays valid); idempotent.
  func unlink() {
    if linked {
      shm_unlink(name)
      linked = false
    }
  }

  /// Unmaps (and unlinks, if the owner still has the name).
  func close() {
    unlink()
    if let base {
      munmap(base, byteCount)
      self.base = nil
    }
  }

  deinit { close() }
}

/// One announcement in a segment's mailbox: the fields of the header-only DLP message it
/// stands for (kind, step, tensor, and the region of the segment that is ready).
struct MailboxRecord {
  var kind: Int32
  var tensorID: UInt32
  var step: UInt64
  var offset: UInt64
  var length: UInt64
}
