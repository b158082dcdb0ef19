import DLPProto

/// Coordinator -> worker (--ship-data): one chunk of a dataset array. The payload holds the
/// chunk's elements as stored (`dtype`), zero-padded to whole 4-byte words.
public struct DataShipmentMessage: WireMessage {
  public static let kind = MessageKind.dataShipment
  /// The array's name, e.g. "x_train".
  public var arrayName: String
  /// The whole array's shape.
  public var shape: [UInt64]
  /// First element of this chunk within the array.
  public var chunkOffset: UInt64
  /// Elements in the whole array.
  public var totalElements: UInt64
  /// Whether this is the array's last chunk.
  public var last: Bool
  /// The element type: "float32" (or empty, from a sender that only ships floats), "uint8",
  /// "int32".
  public var dtype: String
  /// uint8 arrays: values are delivered as byte / divisor.
  public var divisor: Float

  public init(
    arrayName: String, shape: [UInt64], chunkOffset: UInt64, totalElements: UInt64, last: Bool,
    dtype: String = "float32", divisor: Float = 1
  ) {
    self.arrayName = arrayName
    self.shape = shape
    self.chunkOffset = chunkOffset
    self.totalElements = totalElements
    self.last = last
    self.dtype = dtype
    self.divisor = divisor
  }

  public var message: Message { .dataShipment(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__DataShipment()
    dlp__data_shipment__init(&c)
    c.array_name = strings.dup(arrayName)
    c.chunk_offset = chunkOffset
    c.total_elements = totalElements
    c.last = last ? 1 : 0
    c.dtype = strings.dup(dtype)
    c.divisor = divisor
    shape.withUnsafeBufferPointer { dims in
      c.n_shape = dims.count
      c.shape = UnsafeMutablePointer(mutating: dims.baseAddress)
      packMessage(
        &c, into: &out, size: dlp__data_shipment__get_packed_size, pack: dlp__data_shipment__pack)
    }
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "DataShipment", unpack: dlp__data_shipment__unpack,
      free: dlp__data_shipment__free_unpacked
    ) { p in
      let c = p.pointee
      return DataShipmentMessage(
        arrayName: swiftString(c.array_name), shape: swiftArray(c.shape, c.n_shape),
        chunkOffset: c.chunk_offset,
        totalElements: c.total_elements, last: c.last != 0, dtype: swiftString(c.dtype),
        divisor: c.divisor)
    }
  }
}
