import DLPProto
import Foundation

/// A message that travels as the body frame of a DLP multipart message.
///
/// Each conforming type is a plain Swift value mirroring one message of Proto/dlp.proto and
/// converts to and from protobuf-c's C struct at the edge, so the rest of DLP never sees C.
public protocol WireMessage: Sendable, Equatable {
  /// The `Header.kind` that announces this body.
  static var kind: MessageKind { get }
  /// Writes the packed protobuf body into `out`, replacing its contents; reusing one array keeps
  /// its capacity, so steady-state packing does not allocate.
  func pack(into out: inout [UInt8])
  /// Parses a packed body; garbage throws `TransportError.malformed`, never traps.
  init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws
  /// This value wrapped in `Message`.
  var message: Message { get }
}

extension WireMessage {
  /// The packed body as a new array (tests, one-off messages).
  public func packed() -> [UInt8] {
    var out: [UInt8] = []
    pack(into: &out)
    return out
  }

  /// Parses a packed body with a throwaway arena.
  public init(packed bytes: [UInt8]) throws {
    let arena = ProtobufArena(capacity: 4096)
    self = try bytes.withUnsafeBytes { try Self(packed: $0, arena: arena) }
  }
}

// MARK: - Helpers shared by the message files

/// Packs a protobuf-c struct into `out` with its generated size and pack functions.
func packMessage<C>(
  _ message: inout C, into out: inout [UInt8],
  size: (UnsafePointer<C>?) -> Int, pack: (UnsafePointer<C>?, UnsafeMutablePointer<UInt8>?) -> Int
) {
  let n = size(&message)
  if out.count < n {
    out.append(contentsOf: repeatElement(0, count: n - out.count))
  } else if out.count > n {
    out.removeLast(out.count - n)
  }
  let written = out.withUnsafeMutableBufferPointer { buffer in
    // An empty message still needs a valid pointer for protobuf-c.
    withUnsafePointer(to: &message) { m in
      n == 0 ? 0 : pack(m, buffer.baseAddress)
    }
  }
  precondition(written == n, "protobuf-c packed \(written) bytes, expected \(n)")
}

/// Unpacks `bytes` with a generated unpack function into `arena`, converts the C struct with
/// `convert`, and frees it (the arena is reset afterwards, ready for the next message).
func unpackMessage<C, R>(
  _ bytes: UnsafeRawBufferPointer, arena: ProtobufArena, name: String,
  unpack: (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) ->
    UnsafeMutablePointer<C>?,
  free: (UnsafeMutablePointer<C>?, UnsafeMutablePointer<ProtobufCAllocator>?) -> Void,
  convert: (UnsafeMutablePointer<C>) throws -> R
) throws -> R {
  var empty: UInt8 = 0
  let pointer = withUnsafePointer(to: &empty) { emptyPointer in
    unpack(
      arena.allocator, bytes.count,
      bytes.baseAddress?.assumingMemoryBound(to: UInt8.self) ?? emptyPointer)
  }
  guard let pointer else {
    arena.reset()
    throw TransportError.malformed(
      peer: nil, "body is not a valid \(name) message (\(bytes.count) bytes)")
  }
  defer {
    free(pointer, arena.allocator)
    arena.reset()
  }
  return try convert(pointer)
}

/// Duplicates Swift strings as C strings for the time a C struct is packed.
struct CStringPool {
  private var pointers: [UnsafeMutablePointer<CChar>] = []

  /// A C copy of `s` (NUL characters inside `s` end it early, as C strings must).
  mutating func dup(_ s: String) -> UnsafeMutablePointer<CChar>? {
    if s.isEmpty { return nil }  // proto3 omits empty strings; NULL packs as absent
    guard let p = strdup(s) else { return nil }
    pointers.append(p)
    return p
  }

  /// A C copy of `s`, never NULL (repeated fields pack every element).
  mutating func dupNonNull(_ s: String) -> UnsafeMutablePointer<CChar> {
    let p = strdup(s) ?? strdup("")!
    pointers.append(p)
    return p
  }

  /// A C array of C copies of `strings` for a repeated string field (none NULL: repeated
  /// elements are always packed), freed with the pool.
  mutating func array(_ strings: [String]) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?> {
    let a = UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>.allocate(capacity: max(1, strings.count))
    for (i, s) in strings.enumerated() { a[i] = dupNonNull(s) }
    arrays.append(a)
    return a
  }

  private var arrays: [UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>] = []

  /// Frees every string handed out.
  mutating func free() {
    for p in pointers { Foundation.free(p) }
    for a in arrays { a.deallocate() }
    pointers.removeAll()
    arrays.removeAll()
  }
}

/// A Swift string from a protobuf-c string field (NULL or empty: "").
@inline(__always)
func swiftString(_ p: UnsafeMutablePointer<CChar>?) -> String {
  guard let p else { return "" }
  return String(cString: p)
}

/// Copies a protobuf-c repeated field (`n_x`, `x`) into an array.
@inline(__always)
func swiftArray<T>(_ p: UnsafeMutablePointer<T>?, _ n: Int) -> [T] {
  guard let p, n > 0 else { return [] }
  return Array(UnsafeBufferPointer(start: p, count: n))
}
