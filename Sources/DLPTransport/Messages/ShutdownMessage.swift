import DLPProto

/// Coordinator -> worker: finish and exit.
public struct ShutdownMessage: WireMessage {
  public static let kind = MessageKind.shutdown
  public var reason: String

  public init(reason: String = "") { self.reason = reason }

  public var message: Message { .shutdown(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__Shutdown()
    dlp__shutdown__init(&c)
    c.reason = strings.dup(reason)
    packMessage(&c, into: &out, size: dlp__shutdown__get_packed_size, pack: dlp__shutdown__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Shutdown", unpack: dlp__shutdown__unpack,
      free: dlp__shutdown__free_unpacked
    ) { p in
      ShutdownMessage(reason: swiftString(p.pointee.reason))
    }
  }
}
