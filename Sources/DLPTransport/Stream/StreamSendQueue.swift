import Foundation

/// The chunks a stream-ring rank has yet to write to its successor, in order: each a 32-byte
/// header and a pointer into the caller's buffer (nothing is copied before the kernel does).
/// `flush` hands the kernel as much as it takes without blocking, several chunks per call.
final class StreamSendQueue {
  private var headers: UnsafeMutableRawPointer
  private var payloads: [UnsafeRawPointer?] = []
  private var payloadBytes: [Int] = []
  private var capacity = 0
  private var head = 0
  private var tail = 0
  /// Bytes of the head item (header first, then payload) already written.
  private var written = 0
  private var iov: UnsafeMutablePointer<iovec>
  private static let maxIOV = 32

  init() {
    headers = UnsafeMutableRawPointer.allocate(byteCount: 1, alignment: 8)
    iov = UnsafeMutablePointer<iovec>.allocate(capacity: Self.maxIOV)
  }

  deinit {
    headers.deallocate()
    iov.deallocate()
  }

  var isEmpty: Bool { head == tail }
  /// Chunks written whole since the queue was made.
  private(set) var completed = 0

  /// Makes room for `items` chunks in one call (the queue is empty between calls).
  func reserve(_ items: Int) {
    precondition(isEmpty, "StreamSendQueue.reserve with chunks queued")
    head = 0
    tail = 0
    written = 0
    guard items > capacity else { return }
    headers.deallocate()
    headers = UnsafeMutableRawPointer.allocate(
      byteCount: items * StreamChunkHeader.size, alignment: 8)
    payloads = Array(repeating: nil, count: items)
    payloadBytes = Array(repeating: 0, count: items)
    capacity = items
  }

  /// Drops everything queued (after a failure).
  func removeAll() {
    head = 0
    tail = 0
    written = 0
  }

  func append(_ header: StreamChunkHeader, payload: UnsafeRawPointer, bytes: Int) {
    precondition(tail < capacity, "StreamSendQueue overflow: more chunks than the grid holds")
    header.pack(into: headers + tail * StreamChunkHeader.size)
    payloads[tail] = payload
    payloadBytes[tail] = bytes
    tail += 1
  }

  /// Writes what the kernel takes now; returns the bytes written.
  func flush(on socket: StreamSocket, peer: Int) throws -> Int {
    var total = 0
    while head < tail {
      var count = 0
      var item = head
      var skip = written
      while item < tail, count + 2 <= Self.maxIOV {
        let h = StreamChunkHeader.size
        if skip < h {
          iov[count] = iovec(iov_base: headers + item * h + skip, iov_len: h - skip)
          count += 1
          skip = 0
        } else {
          skip -= h
        }
        let bytes = payloadBytes[item] - skip
        if bytes > 0 {
          iov[count] = iovec(
            iov_base: UnsafeMutableRawPointer(mutating: payloads[item]! + skip), iov_len: bytes)
          count += 1
        }
        skip = 0
        item += 1
      }
      let n = try socket.send(iov, count: count, peer: peer)
      if n == 0 { break }
      total += n
      // Advance past what was written.
      var left = n
      while left > 0 {
        let itemBytes = StreamChunkHeader.size + payloadBytes[head] - written
        if left >= itemBytes {
          left -= itemBytes
          head += 1
          completed &+= 1
          written = 0
        } else {
          written += left
          left = 0
        }
      }
    }
    if head == tail {
      head = 0
      tail = 0
    }
    return total
  }
}
