import DLPProto

/// Metadata of a weight payload (coordinator broadcast, or --load-weights); the tensor id,
/// offset and length of the payload are in the header.
public struct WeightChunkMessage: WireMessage {
  public static let kind = MessageKind.weightChunk
  /// Elements in the whole tensor this chunk is part of.
  public var totalLength: UInt64
  /// Whether this is the last chunk of the weights.
  public var last: Bool

  public init(totalLength: UInt64, last: Bool) {
    self.totalLength = totalLength
    self.last = last
  }

  public var message: Message { .weightChunk(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__WeightChunk()
    dlp__weight_chunk__init(&c)
    c.total_length = totalLength
    c.last = last ? 1 : 0
    packMessage(
      &c, into: &out, size: dlp__weight_chunk__get_packed_size, pack: dlp__weight_chunk__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "WeightChunk", unpack: dlp__weight_chunk__unpack,
      free: dlp__weight_chunk__free_unpacked
    ) { p in
      WeightChunkMessage(totalLength: p.pointee.total_length, last: p.pointee.last != 0)
    }
  }
}
