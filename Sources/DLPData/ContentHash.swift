import DLPTensor

/// XXH64, the 64-bit xxHash: a fast, well-specified, non-cryptographic hash (several GB/s), so
/// that two processes can confirm they loaded the same data without shipping it. The output
/// matches the reference implementation (`XXH64(data, len, seed)` of libxxhash).
public enum XXH64 {
  private static let p1: UInt64 = 0x9E37_79B1_85EB_CA87
  private static let p2: UInt64 = 0xC2B2_AE3D_27D4_EB4F
  private static let p3: UInt64 = 0x1656_67B1_9E37_79F9
  private static let p4: UInt64 = 0x85EB_CA77_C2B2_AE63
  private static let p5: UInt64 = 0x27D4_EB2F_1656_67C5

  @inline(__always) private static func rotl(_ x: UInt64, _ r: UInt64) -> UInt64 {
    (x << r) | (x >> (64 - r))
  }

  @inline(__always) private static func round(_ acc: UInt64, _ input: UInt64) -> UInt64 {
    rotl(acc &+ input &* p2, 31) &* p1
  }

  @inline(__always) private static func merge(_ acc: UInt64, _ value: UInt64) -> UInt64 {
    (acc ^ round(0, value)) &* p1 &+ p4
  }

  /// The hash of `bytes` with `seed`.
  public static func hash(_ bytes: UnsafeRawBufferPointer, seed: UInt64 = 0) -> UInt64 {
    let n = bytes.count
    var i = 0
    @inline(__always) func load64(_ at: Int) -> UInt64 {
      UInt64(littleEndian: bytes.loadUnaligned(fromByteOffset: at, as: UInt64.self))
    }
    var h: UInt64
    if n >= 32 {
      var v1 = seed &+ p1 &+ p2
      var v2 = seed &+ p2
      var v3 = seed
      var v4 = seed &- p1
      while i + 32 <= n {
        v1 = round(v1, load64(i))
        v2 = round(v2, load64(i + 8))
        v3 = round(v3, load64(i + 16))
        v4 = round(v4, load64(i + 24))
        i += 32
      }
      h = rotl(v1, 1) &+ rotl(v2, 7) &+ rotl(v3, 12) &+ rotl(v4, 18)
      h = merge(merge(merge(merge(h, v1), v2), v3), v4)
    } else {
      h = seed &+ p5
    }
    h = h &+ UInt64(n)
    while i + 8 <= n {
      h = rotl(h ^ round(0, load64(i)), 27) &* p1 &+ p4
      i += 8
    }
    if i + 4 <= n {
      let k = UInt64(UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: i, as: UInt32.self)))
      h = rotl(h ^ (k &* p1), 23) &* p2 &+ p3
      i += 4
    }
    while i < n {
      h = rotl(h ^ (UInt64(bytes[i]) &* p5), 11) &* p1
      i += 1
    }
    h ^= h >> 33
    h = h &* p2
    h ^= h >> 29
    h = h &* p3
    h ^= h >> 32
    return h
  }

  public static func hash(_ bytes: [UInt8], seed: UInt64 = 0) -> UInt64 {
    bytes.withUnsafeBytes { hash($0, seed: seed) }
  }
}

/// Combines the hashes of several tensors (shapes and elements) into one content hash.
public struct ContentHasher: Sendable {
  private var digests: [UInt64] = []

  public init() {}

  /// Adds a tensor: its shape and the raw bytes of its Float32 elements.
  public mutating func add(_ tensor: Tensor) {
    let shape = tensor.shape.map { Int64($0).littleEndian }
    digests.append(shape.withUnsafeBytes { XXH64.hash($0) })
    digests.append(tensor.scalars.withUnsafeBytes { XXH64.hash($0) })
  }

  /// Adds a sample array: its shape, its element type (and a uint8 divisor) unless float32, and
  /// the bytes as stored. Float32 samples hash as the tensor of the same elements does.
  public mutating func add(_ samples: SampleArray) {
    let shape = samples.shape.map { Int64($0).littleEndian }
    digests.append(shape.withUnsafeBytes { XXH64.hash($0) })
    switch samples.storage {
    case .float32: break
    case .uint8(_, let divisor): digests.append(XXH64.hash(Array("uint8/\(divisor.bitPattern)".utf8)))
    case .int32: digests.append(XXH64.hash(Array("int32".utf8)))
    }
    digests.append(samples.withUnsafeBytes { XXH64.hash($0) })
  }

  /// Marks a missing part (a dataset without a test split), so it differs from an empty one.
  public mutating func addAbsent() { digests.append(0xFFFF_FFFF_FFFF_FFFF) }

  /// The hash of everything added, in order.
  public var value: UInt64 {
    digests.map(\.littleEndian).withUnsafeBytes { XXH64.hash($0) }
  }
}
