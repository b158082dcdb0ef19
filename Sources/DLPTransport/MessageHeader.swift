import DLPProto

/// Frame 0 of every DLP message: what follows, for which job and step, and how big the payload is.
public struct MessageHeader: Sendable, Equatable {
  /// Packed headers are at most 84 bytes (nine fields, negative ranks take ten bytes); anything
  /// bigger is not a header.
  public static let maxPackedBytes = 128

  public var version: UInt32
  public var jobID: UInt64
  public var step: UInt64
  public var kind: MessageKind
  public var senderRank: Int32
  /// Which tensor or gradient bucket the payload belongs to.
  public var tensorID: UInt32
  /// First element of the payload within that tensor.
  public var offset: UInt64
  /// Payload elements (float32).
  public var length: UInt64
  /// Bytes in the payload frame; always `4 * length`.
  public var payloadBytes: UInt64

  public init(
    version: UInt32 = DLPProtocol.version, jobID: UInt64, step: UInt64, kind: MessageKind,
    senderRank: Int32,
    tensorID: UInt32 = 0, offset: UInt64 = 0, length: UInt64 = 0, payloadBytes: UInt64? = nil
  ) {
    self.version = version
    self.jobID = jobID
    self.step = step
    self.kind = kind
    self.senderRank = senderRank
    self.tensorID = tensorID
    self.offset = offset
    self.length = length
    // A length too big for its byte count saturates; validation then refuses the header.
    let (bytes, overflow) = length.multipliedReportingOverflow(by: 4)
    self.payloadBytes = payloadBytes ?? (overflow ? .max : bytes)
  }

  /// Packs into `out`, which must hold `maxPackedBytes`; returns the bytes written.
  public func pack(into out: UnsafeMutableRawPointer) -> Int {
    var c = Dlp__Header()
    dlp__header__init(&c)
    c.version = version
    c.job_id = jobID
    c.step = step
    c.kind = Dlp__MessageKind(rawValue: UInt32(kind.rawValue))
    c.sender_rank = senderRank
    c.tensor_id = tensorID
    c.offset = offset
    c.length = length
    c.payload_bytes = payloadBytes
    return dlp__header__pack(&c, out.assumingMemoryBound(to: UInt8.self))
  }

  /// The packed header as a new array.
  public func packed() -> [UInt8] {
    [UInt8](unsafeUninitializedCapacity: Self.maxPackedBytes) { buffer, count in
      count = pack(into: UnsafeMutableRawPointer(buffer.baseAddress!))
    }
  }

  /// Parses a packed header. Checks, in this order, that the bytes are a header at all, that the
  /// version is ours (before anything else: a newer peer may use kinds we do not know), and that
  /// the kind is known. `peer` is named in errors when the caller knows who sent it.
  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena, peer: Int? = nil) throws {
    guard bytes.count <= Self.maxPackedBytes else {
      throw TransportError.malformed(
        peer: peer, "header frame of \(bytes.count) bytes is too big to be a header")
    }
    let raw: Dlp__Header
    do {
      raw = try unpackMessage(
        bytes, arena: arena, name: "Header", unpack: dlp__header__unpack,
        free: dlp__header__free_unpacked
      ) { $0.pointee }
    } catch {
      throw TransportError.malformed(
        peer: peer, "header frame (\(bytes.count) bytes) is not a valid Header")
    }
    guard raw.version != 0 else {
      throw TransportError.malformed(peer: peer, "header carries no protocol version")
    }
    guard raw.version == DLPProtocol.version else {
      throw TransportError.versionMismatch(
        peer: peer, expected: DLPProtocol.version, got: raw.version)
    }
    guard let kind = MessageKind(rawValue: Int32(bitPattern: raw.kind.rawValue)) else {
      throw TransportError.malformed(peer: peer, "unknown message kind \(raw.kind.rawValue)")
    }
    self.init(
      version: raw.version, jobID: raw.job_id, step: raw.step, kind: kind,
      senderRank: raw.sender_rank,
      tensorID: raw.tensor_id, offset: raw.offset, length: raw.length,
      payloadBytes: raw.payload_bytes)
  }
}
