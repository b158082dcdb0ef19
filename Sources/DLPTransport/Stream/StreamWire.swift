/// What travels on a stream-ring connection: one `StreamHello` from the connecting rank, then
/// chunks, each a `StreamChunkHeader` followed by `length` little-endian float32 values.
///
/// Fixed 32-byte little-endian layouts instead of protobuf: the ring's bulk path reads a
/// header per 256 KiB chunk and must check it in a few instructions. The protocol version
/// (`DLPProtocol.version`) is in the hello; a peer of another version is refused there.
struct StreamHello: Equatable {
  static let size = 32
  static let magic: UInt32 = 0x5350_4C44  // "DLPS"

  var version: UInt32 = DLPProtocol.version
  /// The collective (job and generation) the connection belongs to.
  var collectiveID: UInt64
  var senderRank: UInt32
  var worldSize: UInt32
  /// The grid's chunk size: ranks that cut the buffer differently cannot understand each other.
  var chunkElements: UInt32

  func pack(into p: UnsafeMutableRawPointer) {
    p.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
    p.storeBytes(of: version.littleEndian, toByteOffset: 4, as: UInt32.self)
    p.storeBytes(of: collectiveID.littleEndian, toByteOffset: 8, as: UInt64.self)
    p.storeBytes(of: senderRank.littleEndian, toByteOffset: 16, as: UInt32.self)
    p.storeBytes(of: worldSize.littleEndian, toByteOffset: 20, as: UInt32.self)
    p.storeBytes(of: chunkElements.littleEndian, toByteOffset: 24, as: UInt32.self)
    p.storeBytes(of: UInt32(0), toByteOffset: 28, as: UInt32.self)
  }

  /// Decodes 32 bytes; nil when they are not a stream hello at all (wrong magic or reserved
  /// bits): a stranger's bytes.
  init?(_ p: UnsafeRawPointer) {
    guard UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == Self.magic,
      p.loadUnaligned(fromByteOffset: 28, as: UInt32.self) == 0
    else { return nil }
    version = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    collectiveID = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt64.self))
    senderRank = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt32.self))
    worldSize = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 20, as: UInt32.self))
    chunkElements = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt32.self))
  }

  init(collectiveID: UInt64, senderRank: Int, worldSize: Int, chunkElements: Int) {
    self.collectiveID = collectiveID
    self.senderRank = UInt32(senderRank)
    self.worldSize = UInt32(worldSize)
    self.chunkElements = UInt32(chunkElements)
  }
}

/// The header in front of every chunk on a stream-ring connection.
struct StreamChunkHeader: Equatable {
  static let size = 32
  static let magic: UInt32 = 0x4350_4C44  // "DLPC"

  enum Kind: UInt8 {
    case reduceScatter = 1
    case allGather = 2
  }

  var kind: Kind
  var tensorID: UInt32
  var length: UInt32
  var step: UInt64
  var offset: UInt64

  func pack(into p: UnsafeMutableRawPointer) {
    p.storeBytes(of: Self.magic.littleEndian, toByteOffset: 0, as: UInt32.self)
    p.storeBytes(of: UInt32(kind.rawValue).littleEndian, toByteOffset: 4, as: UInt32.self)
    p.storeBytes(of: tensorID.littleEndian, toByteOffset: 8, as: UInt32.self)
    p.storeBytes(of: length.littleEndian, toByteOffset: 12, as: UInt32.self)
    p.storeBytes(of: step.littleEndian, toByteOffset: 16, as: UInt64.self)
    p.storeBytes(of: offset.littleEndian, toByteOffset: 24, as: UInt64.self)
  }

  /// Decodes 32 bytes from the predecessor, which the hello identified: anything that is not a
  /// chunk header means it is broken or out of step, and throws.
  init(_ p: UnsafeRawPointer, peer: Int) throws {
    guard UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 0, as: UInt32.self)) == Self.magic
    else {
      throw TransportError.malformed(peer: peer, "stream chunk without its header's magic")
    }
    let word = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4, as: UInt32.self))
    guard word <= 0xFF, let kind = Kind(rawValue: UInt8(word)) else {
      throw TransportError.malformed(peer: peer, "stream chunk of unknown kind \(word)")
    }
    self.kind = kind
    tensorID = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 8, as: UInt32.self))
    length = UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 12, as: UInt32.self))
    step = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 16, as: UInt64.self))
    offset = UInt64(littleEndian: p.loadUnaligned(fromByteOffset: 24, as: UInt64.self))
  }

  init(kind: Kind, tensorID: UInt32, length: Int, step: UInt64, offset: Int) {
    self.kind = kind
    self.tensorID = tensorID
    self.length = UInt32(length)
    self.step = step
    self.offset = UInt64(offset)
  }
}
