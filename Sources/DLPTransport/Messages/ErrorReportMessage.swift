import DLPProto

/// Either direction: something went wrong; `fatal` says whether the sender is giving up.
public struct ErrorReportMessage: WireMessage {
  public static let kind = MessageKind.errorReport
  /// An application-defined code (0: unspecified).
  public var code: Int32
  public var text: String
  public var fatal: Bool

  public init(code: Int32 = 0, text: String, fatal: Bool = true) {
    self.code = code
    self.text = text
    self.fatal = fatal
  }

  public var message: Message { .errorReport(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__ErrorReport()
    dlp__error_report__init(&c)
    c.code = code
    c.message = strings.dup(text)
    c.fatal = fatal ? 1 : 0
    packMessage(
      &c, into: &out, size: dlp__error_report__get_packed_size, pack: dlp__error_report__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "ErrorReport", unpack: dlp__error_report__unpack,
      free: dlp__error_report__free_unpacked
    ) { p in
      ErrorReportMessage(
        code: p.pointee.code, text: swiftString(p.pointee.message), fatal: p.pointee.fatal != 0)
    }
  }
}
