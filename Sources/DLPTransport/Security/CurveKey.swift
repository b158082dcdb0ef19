import CZMQ
import DLPTensor

/// A CURVE key (Curve25519, 32 bytes), public or secret, and its Z85 text (ZeroMQ's RFC 32:
/// 40 printable characters), the form key files and job specs carry.
public struct CurveKey: Sendable, Hashable, CustomStringConvertible {
  /// The 32 raw bytes.
  public let bytes: [UInt8]

  public static let byteCount = 32
  public static let z85Count = 40

  /// A key from 32 raw bytes; other lengths throw.
  public init(bytes: [UInt8]) throws {
    guard bytes.count == Self.byteCount else {
      throw DLPError.config(
        "a CURVE key has \(Self.byteCount) bytes. Received: \(bytes.count) bytes")
    }
    self.bytes = bytes
  }

  /// A key from its Z85 text (surrounding white space ignored); anything but 40 characters of
  /// the Z85 alphabet throws, saying which.
  public init(z85 text: String, what: String = "CURVE key") throws {
    let trimmed = text.trimmingWhitespace
    guard trimmed.utf8.count == Self.z85Count else {
      throw DLPError.config(
        "\(what) must be \(Self.z85Count) Z85 characters (what `dlp keygen` writes). Received: \(trimmed.utf8.count) characters"
      )
    }
    guard let raw = Z85.decode(trimmed) else {
      throw DLPError.config(
        "\(what) is not valid Z85 text (characters outside ZeroMQ's Z85 alphabet, or a group too large)"
      )
    }
    self.bytes = raw
  }

  /// The key as 40 Z85 characters.
  public var z85: String { Z85.encode(bytes) }

  /// The Z85 text; `CurveKeyPair` never prints its secret (see there).
  public var description: String { z85 }
}

/// A CURVE key pair: what a server or client socket authenticates with.
public struct CurveKeyPair: Sendable, Equatable, CustomStringConvertible {
  public let publicKey: CurveKey
  public let secretKey: CurveKey

  public init(publicKey: CurveKey, secretKey: CurveKey) {
    self.publicKey = publicKey
    self.secretKey = secretKey
  }

  /// A fresh key pair from libzmq's CURVE implementation (libsodium's random source).
  public static func generate() throws -> CurveKeyPair {
    try CurveSupport.require()
    var pub = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
    var sec = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
    guard zmq_curve_keypair(&pub, &sec) == 0 else {
      throw TransportError.lastZMQError("zmq_curve_keypair")
    }
    defer { for i in sec.indices { sec[i] = 0 } }
    return CurveKeyPair(
      publicKey: try CurveKey(z85: String(cString: pub)),
      secretKey: try CurveKey(z85: String(cString: sec)))
  }

  /// The pair whose secret key is `secret` (the public key is derived from it).
  public init(secretKey secret: CurveKey) throws {
    try CurveSupport.require()
    var pub = [CChar](repeating: 0, count: CurveKey.z85Count + 1)
    let rc = secret.z85.withCString { zmq_curve_public(&pub, $0) }
    guard rc == 0 else { throw TransportError.lastZMQError("zmq_curve_public") }
    self.init(publicKey: try CurveKey(z85: String(cString: pub)), secretKey: secret)
  }

  /// Names the public key only: a secret must never reach a log line.
  public var description: String { "CurveKeyPair(public: \(publicKey.z85))" }
}

/// Whether this libzmq can do CURVE (it needs libsodium or its bundled tweetnacl).
public enum CurveSupport {
  public static var isAvailable: Bool { zmq_has("curve") == 1 }

  /// Throws a clear error when libzmq was built without CURVE.
  public static func require() throws {
    guard isAvailable else {
      var major: Int32 = 0
      var minor: Int32 = 0
      var patch: Int32 = 0
      zmq_version(&major, &minor, &patch)
      throw DLPError.config(
        "this libzmq (\(major).\(minor).\(patch)) was built without CURVE security (zmq_has(\"curve\") is false); install a libzmq built with libsodium (Debian's libzmq5 is), or run with --insecure on a trusted network"
      )
    }
  }
}

/// ZeroMQ's Z85 encoding (RFC 32): 4 bytes <-> 5 characters, big-endian base 85.
enum Z85 {
  static let alphabet = Array(
    "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#".utf8)

  /// Character -> digit, 0xFF for characters outside the alphabet.
  static let digits: [UInt8] = {
    var table = [UInt8](repeating: 0xFF, count: 256)
    for (i, c) in alphabet.enumerated() { table[Int(c)] = UInt8(i) }
    return table
  }()

  /// Encodes `bytes` (a multiple of 4 long).
  static func encode(_ bytes: [UInt8]) -> String {
    precondition(bytes.count % 4 == 0, "Z85 encodes whole 4-byte groups")
    var out: [UInt8] = []
    out.reserveCapacity(bytes.count / 4 * 5)
    var i = 0
    while i < bytes.count {
      var value = UInt32(bytes[i]) << 24 | UInt32(bytes[i + 1]) << 16
      value |= UInt32(bytes[i + 2]) << 8 | UInt32(bytes[i + 3])
      var group = [UInt8](repeating: 0, count: 5)
      for k in stride(from: 4, through: 0, by: -1) {
        group[k] = alphabet[Int(value % 85)]
        value /= 85
      }
      out += group
      i += 4
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Decodes Z85 text (a multiple of 5 characters); nil for a character outside the alphabet
  /// or a group whose value exceeds 32 bits.
  static func decode(_ text: String) -> [UInt8]? {
    let chars = Array(text.utf8)
    guard chars.count % 5 == 0 else { return nil }
    var out: [UInt8] = []
    out.reserveCapacity(chars.count / 5 * 4)
    var i = 0
    while i < chars.count {
      var value: UInt64 = 0
      for k in 0..<5 {
        let d = digits[Int(chars[i + k])]
        guard d != 0xFF else { return nil }
        value = value * 85 + UInt64(d)
      }
      guard value <= UInt64(UInt32.max) else { return nil }
      out += [
        UInt8(value >> 24 & 0xFF), UInt8(value >> 16 & 0xFF), UInt8(value >> 8 & 0xFF),
        UInt8(value & 0xFF),
      ]
      i += 5
    }
    return out
  }
}

extension String {
  /// Without leading and trailing spaces, tabs and line ends (Foundation-free).
  var trimmingWhitespace: String {
    let isSpace: (Character) -> Bool = { $0.isWhitespace }
    guard let first = firstIndex(where: { !isSpace($0) }),
      let last = lastIndex(where: { !isSpace($0) })
    else { return "" }
    return String(self[first...last])
  }
}
