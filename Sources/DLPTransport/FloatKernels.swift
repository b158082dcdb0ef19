/// The two loops collectives spend their CPU time in, over raw memory.
enum FloatKernels {
  /// `dst[i] += src[i]`. `src` is a received frame that may be unaligned (small ZeroMQ frames
  /// live at arbitrary offsets of its read buffer); aligned input takes the vectorised path.
  @inline(__always)
  static func add(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    if Int(bitPattern: src) % MemoryLayout<Float>.alignment == 0 {
      let s = src.assumingMemoryBound(to: Float.self)
      for i in 0..<count { dst[i] += s[i] }
    } else {
      for i in 0..<count { dst[i] += src.loadUnaligned(fromByteOffset: i * 4, as: Float.self) }
    }
  }

  /// `dst[i] = src[i]` (memcpy, any alignment).
  @inline(__always)
  static func copy(_ src: UnsafeRawPointer, into dst: UnsafeMutablePointer<Float>, count: Int) {
    if count > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: count * 4) }
  }
}
