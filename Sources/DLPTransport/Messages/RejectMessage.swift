import DLPProto

/// Coordinator -> worker: the worker is refused (protocol version, dataset hash, job full...).
public struct RejectMessage: WireMessage {
  public static let kind = MessageKind.reject
  /// Why, in words a user can act on.
  public var reason: String
  /// The protocol version the coordinator speaks.
  public var supportedVersion: UInt32

  public init(reason: String, supportedVersion: UInt32 = DLPProtocol.version) {
    self.reason = reason
    self.supportedVersion = supportedVersion
  }

  public var message: Message { .reject(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__Reject()
    dlp__reject__init(&c)
    c.reason = strings.dup(reason)
    c.supported_version = supportedVersion
    packMessage(&c, into: &out, size: dlp__reject__get_packed_size, pack: dlp__reject__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Reject", unpack: dlp__reject__unpack,
      free: dlp__reject__free_unpacked
    ) { p in
      RejectMessage(
        reason: swiftString(p.pointee.reason), supportedVersion: p.pointee.supported_version)
    }
  }
}
