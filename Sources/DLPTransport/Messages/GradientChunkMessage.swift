import DLPProto

/// Metadata of a gradient payload sent to the coordinator (central collective); the tensor id,
/// offset and length of the payload are in the header.
public struct GradientChunkMessage: WireMessage {
  public static let kind = MessageKind.gradientChunk
  /// Elements in the whole tensor or bucket this chunk is part of.
  public var totalLength: UInt64
  /// Whether this is the last chunk of the step's gradients.
  public var last: Bool

  public init(totalLength: UInt64, last: Bool) {
    self.totalLength = totalLength
    self.last = last
  }

  public var message: Message { .gradientChunk(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__GradientChunk()
    dlp__gradient_chunk__init(&c)
    c.total_length = totalLength
    c.last = last ? 1 : 0
    packMessage(
      &c, into: &out, size: dlp__gradient_chunk__get_packed_size, pack: dlp__gradient_chunk__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "GradientChunk", unpack: dlp__gradient_chunk__unpack,
      free: dlp__gradient_chunk__free_unpacked
    ) { p in
      GradientChunkMessage(totalLength: p.pointee.total_length, last: p.pointee.last != 0)
    }
  }
}
