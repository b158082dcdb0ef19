import Foundation

/// The float32 payload of a received message, read in place from the frame ZeroMQ received
/// (no copy) or, for messages decoded from byte arrays, from an array.
///
/// Payloads are little-endian float32, the byte order of every host DLP runs on (x86-64, arm64).
public final class Payload {
  enum Storage {
    case frame(ZMQMessage)
    case bytes([UInt8])
  }

  let storage: Storage

  init(frame: ZMQMessage) { storage = .frame(frame) }
  init(bytes: [UInt8]) { storage = .bytes(bytes) }

  /// Float elements in the payload.
  public var count: Int {
    switch storage {
    case .frame(let m): return m.count / 4
    case .bytes(let b): return b.count / 4
    }
  }

  /// Calls `body` with the raw bytes.
  public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
    switch storage {
    case .frame(let m): return try body(m.bytes)
    case .bytes(let b): return try b.withUnsafeBytes(body)
    }
  }

  /// Calls `body` with the values as floats. ZeroMQ may deliver a small frame at an address that
  /// is not 4-aligned (it slices small messages out of its read buffer); such a frame is copied
  /// to aligned memory first, big frames never are.
  public func withUnsafeBufferPointer<R>(_ body: (UnsafeBufferPointer<Float>) throws -> R) rethrows
    -> R
  {
    try withUnsafeBytes { raw in
      let n = raw.count / 4
      if let base = raw.baseAddress, Int(bitPattern: base) % MemoryLayout<Float>.alignment == 0 {
        return try body(
          UnsafeBufferPointer(start: base.assumingMemoryBound(to: Float.self), count: n))
      }
      var copy = [Float](repeating: 0, count: n)
      copy.withUnsafeMutableBytes { dst in
        if n > 0 { dst.baseAddress!.copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
      }
      return try copy.withUnsafeBufferPointer(body)
    }
  }

  /// Copies the values into `destination`, which must hold exactly `count` floats.
  public func copy(into destination: UnsafeMutableBufferPointer<Float>) throws {
    guard destination.count == count else {
      throw TransportError.invalidArgument(
        "payload of \(count) floats does not fit a \(destination.count)-float buffer")
    }
    withUnsafeBytes { raw in
      if let base = raw.baseAddress, let dst = destination.baseAddress, count > 0 {
        UnsafeMutableRawPointer(dst).copyMemory(from: base, byteCount: count * 4)
      }
    }
  }

  /// A copy of the values.
  public var floats: [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, n in
      n = count
      try? copy(into: buffer)
    }
  }
}
