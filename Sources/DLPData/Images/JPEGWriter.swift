import CJPEG
import DLPTensor
import Foundation

/// Baseline JPEG encoding with libjpeg-turbo (grayscale or RGB, 8-bit).
public enum JPEGWriter {
  public static func encode(pixels: [UInt8], height: Int, width: Int, channels: Int, quality: Int = 95) throws
    -> [UInt8]
  {
    guard channels == 1 || channels == 3 else {
      throw DLPError.config("JPEG images have 1 or 3 channels; received \(channels)")
    }
    guard height > 0, width > 0, pixels.count == height * width * channels else {
      throw DLPError.shape(
        "a \(height) x \(width) x \(channels) image needs \(height * width * channels) samples, received \(pixels.count)"
      )
    }
    var out: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    var message = [CChar](repeating: 0, count: 256)
    let rc = pixels.withUnsafeBufferPointer { p in
      dlp_jpeg_encode(
        p.baseAddress, Int32(height), Int32(width), Int32(channels), Int32(quality), &out, &size, &message,
        Int32(message.count))
    }
    guard rc == 0, let bytes = out else {
      throw DLPError.io("libjpeg could not encode the image (\(String(cString: message)))")
    }
    defer { free(bytes) }
    return Array(UnsafeBufferPointer(start: bytes, count: Int(size)))
  }

  public static func write(pixels: [UInt8], height: Int, width: Int, channels: Int, quality: Int = 95, to url: URL)
    throws
  {
    try FileIO.writeAtomically(
      encode(pixels: pixels, height: height, width: width, channels: channels, quality: quality), to: url)
  }
}
