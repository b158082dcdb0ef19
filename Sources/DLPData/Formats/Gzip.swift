import CZlib
import DLPTensor

/// Decompression over zlib: whole gzip files (IDX `.gz`) and raw deflate streams (zip entries).
///
/// Every failure (corrupt data, a truncated stream, a checksum mismatch, output larger than
/// allowed) throws `DLPError.data` naming the source; nothing traps on bad input.
public enum Gzip {
  /// Whether `bytes` starts with the gzip magic number.
  public static func isGzip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B
  }

  /// Decompresses a gzip file, including files of several concatenated members (as `cat a.gz
  /// b.gz` makes, which `gunzip` accepts). zlib checks each member's CRC-32 and length.
  ///
  /// - Parameter maxOutput: refuse to produce more bytes than this (a guard against
  ///   decompression bombs); the default, 16 GiB, is far above any dataset used here.
  public static func gunzip(_ bytes: [UInt8], source: String, maxOutput: Int = 1 << 34) throws
    -> [UInt8]
  {
    guard isGzip(bytes) else { throw DLPError.data("\(source): not a gzip file (bad magic)") }
    // The trailer's ISIZE is the length modulo 2^32: a good first guess, never trusted.
    var guess = bytes.count * 4
    if bytes.count >= 18 {
      let n = bytes.count
      let isize =
        Int(bytes[n - 4]) | Int(bytes[n - 3]) << 8 | Int(bytes[n - 2]) << 16
        | Int(bytes[n - 1]) << 24
      if isize > 0, isize <= bytes.count &* 1100 { guess = isize }
    }
    return try inflate(
      bytes[...], windowBits: 16 + MAX_WBITS, capacity: min(guess, maxOutput) + 1,
      maxOutput: maxOutput, multipleMembers: true, source: source)
  }

  /// The first `count` bytes a gzip file decompresses to (fewer when it holds fewer), without
  /// inflating the rest: `--samples N` needs only the first N images of a 47 MB IDX file. The
  /// CRC-32 in the trailer cannot be checked on a prefix; corrupt deflate data still throws.
  public static func gunzipPrefix(_ bytes: [UInt8], count: Int, source: String) throws -> [UInt8] {
    guard isGzip(bytes) else { throw DLPError.data("\(source): not a gzip file (bad magic)") }
    return try inflate(
      bytes[...], windowBits: 16 + MAX_WBITS, capacity: max(count, 1), maxOutput: max(count, 1),
      multipleMembers: true, source: source, stopAt: count)
  }

  /// Inflates a raw deflate stream (zip method 8) that must produce exactly `expectedSize` bytes.
  public static func inflateRaw(_ bytes: ArraySlice<UInt8>, expectedSize: Int, source: String)
    throws -> [UInt8]
  {
    let out = try inflate(
      bytes, windowBits: -MAX_WBITS, capacity: expectedSize + 1, maxOutput: expectedSize,
      multipleMembers: false, source: source)
    guard out.count == expectedSize else {
      throw DLPError.data(
        "\(source): deflate stream holds \(out.count) bytes, the header says \(expectedSize)")
    }
    return out
  }

  /// A zlib stream (RFC 1950: header, deflate, Adler-32) of `bytes` at the best compression:
  /// what a PNG's IDAT chunks hold.
  public static func deflateZlib(_ bytes: [UInt8]) throws -> [UInt8] {
    var size = compressBound(uLong(bytes.count))
    var out = [UInt8](repeating: 0, count: Int(size))
    let status = out.withUnsafeMutableBufferPointer { o in
      bytes.withUnsafeBufferPointer { i in compress2(o.baseAddress, &size, i.baseAddress, uLong(i.count), Z_BEST_COMPRESSION) }
    }
    guard status == Z_OK else { throw DLPError.io("zlib could not compress \(bytes.count) bytes (status \(status))") }
    out.removeSubrange(Int(size)...)
    return out
  }

  /// zlib's CRC-32 (the checksum zip and gzip use).
  public static func crc32(_ bytes: ArraySlice<UInt8>) -> UInt32 {
    bytes.withUnsafeBufferPointer { buffer in
      var crc = CZlib.crc32(0, nil, 0)
      var offset = 0
      // zlib takes a 32-bit length: feed large buffers in chunks.
      while offset < buffer.count {
        let chunk = min(buffer.count - offset, 1 << 30)
        crc = CZlib.crc32(crc, buffer.baseAddress! + offset, uInt(chunk))
        offset += chunk
      }
      return UInt32(truncatingIfNeeded: crc)
    }
  }

  /// The shared inflate loop. The output array grows geometrically when the first guess of its
  /// size was too small; each step hands zlib the whole free tail of the buffer.
  private static func inflate(
    _ input: ArraySlice<UInt8>, windowBits: Int32, capacity: Int, maxOutput: Int,
    multipleMembers: Bool, source: String, stopAt: Int? = nil
  ) throws -> [UInt8] {
    var stream = z_stream()
    guard
      inflateInit2_(&stream, windowBits, zlibVersion(), Int32(MemoryLayout<z_stream>.size))
        == Z_OK
    else { throw DLPError.data("\(source): cannot initialise zlib") }
    defer { inflateEnd(&stream) }

    var output = [UInt8](repeating: 0, count: max(capacity, 64))
    var produced = 0
    var consumed = 0
    try input.withUnsafeBufferPointer { inBuffer in
      while true {
        if let stopAt, produced >= stopAt { return }
        if produced == output.count {
          guard output.count <= maxOutput else {
            throw DLPError.data("\(source): decompresses to more than \(maxOutput) bytes")
          }
          let grown = min(output.count * 2, maxOutput + 1)
          output.append(contentsOf: repeatElement(0, count: max(grown - output.count, 1)))
        }
        let inChunk = min(inBuffer.count - consumed, Int(UInt32.max))
        let outChunk = min(output.count - produced, Int(UInt32.max))
        stream.next_in = UnsafeMutablePointer(mutating: inBuffer.baseAddress.map { $0 + consumed })
        stream.avail_in = uInt(inChunk)
        let status = output.withUnsafeMutableBufferPointer { outBuffer -> Int32 in
          stream.next_out = outBuffer.baseAddress! + produced
          stream.avail_out = uInt(outChunk)
          return CZlib.inflate(&stream, Z_NO_FLUSH)
        }
        consumed += inChunk - Int(stream.avail_in)
        produced += outChunk - Int(stream.avail_out)
        switch status {
        case Z_STREAM_END:
          let rest = inBuffer[consumed...]
          if rest.allSatisfy({ $0 == 0 }) { return }  // padding after the last member is harmless
          guard multipleMembers, rest.count >= 2, rest.first == 0x1F,
            rest[rest.startIndex + 1] == 0x8B
          else {
            throw DLPError.data(
              "\(source): \(rest.count) bytes of unexpected data after the stream")
          }
          guard inflateReset(&stream) == Z_OK else {
            throw DLPError.data("\(source): cannot reset zlib")
          }
        case Z_OK, Z_BUF_ERROR:
          // No progress with input left means the output is full (grown above); no input left
          // and no end of stream means the file was cut short.
          if consumed == inBuffer.count && stream.avail_out > 0 {
            throw DLPError.data(
              "\(source): truncated compressed data (ends after \(inBuffer.count) bytes)")
          }
        case Z_NEED_DICT:
          throw DLPError.data("\(source): compressed data needs a preset dictionary")
        case Z_MEM_ERROR:
          throw DLPError.data("\(source): out of memory while decompressing")
        default:
          let reason = stream.msg.map { String(cString: $0) } ?? "zlib error \(status)"
          throw DLPError.data("\(source): corrupt compressed data (\(reason))")
        }
      }
    }
    if let stopAt, produced > stopAt { produced = stopAt }
    output.removeLast(output.count - produced)
    return output
  }
}
