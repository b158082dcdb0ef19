import DLPTensor
import Foundation

/// Decodes and resizes images of an `ImageFolder` into samples (H, W, C) with values in
/// [0, 255] (divided by `options.divisor`), as `image_dataset_from_directory` yields them, on
/// several threads at once. Images already of the sample size are kept as bytes (uint8 samples
/// delivered as `Float(v) / divisor`: the same values, a quarter of the memory); a resized
/// image has fractional values, so a folder that needs resizing is held as float32.
public struct ImageFolderLoader: Sendable {
  public let folder: ImageFolder
  public let options: ImageFolderOptions
  /// (height, width, channels) of every sample.
  public let sampleShape: [Int]

  /// Fixes the sample shape: `imageSize`, or the size of the first image (every other image
  /// must then have it too; checked as they are decoded).
  public init(folder: ImageFolder, options: ImageFolderOptions) throws {
    self.folder = folder
    self.options = options
    let c = options.mode.channels
    if let s = options.imageSize {
      guard s.count == 2, s.allSatisfy({ $0 > 0 }) else {
        throw DLPError.config("image_size must be two positive integers (height, width). Received: \(s)")
      }
      sampleShape = [s[0], s[1], c]
    } else {
      let first = try ImageDecoder.decode(file: folder.files[0].path, colorMode: options.mode)
      sampleShape = [first.height, first.width, c]
    }
  }

  public var count: Int { folder.files.count }
  public var sampleWidth: Int { sampleShape.reduce(1, *) }
  /// Bytes the decoded samples of the whole folder take: one a value when every image has one
  /// size (no --image-size), else (possibly resized, so float32) four.
  public var decodedBytes: Int { count * sampleWidth * (options.imageSize == nil ? 1 : 4) }

  /// Decodes file `i`; checks its size against the sample shape.
  func decodeChecked(_ i: Int) throws -> DecodedImage {
    let path = folder.files[i].path
    let image = try ImageDecoder.decode(file: path, colorMode: options.mode)
    let (h, w) = (sampleShape[0], sampleShape[1])
    if options.imageSize == nil && (image.height != h || image.width != w) {
      throw DLPError.data(
        "\(path) is \(image.height) x \(image.width) but \(folder.files[0].lastPathComponent) is \(h) x \(w); images of different sizes need --image-size H,W")
    }
    return image
  }

  /// Decodes file `i` into `out` (sampleWidth floats, resized and divided by the divisor).
  public func decode(_ i: Int, into out: UnsafeMutablePointer<Float>) throws {
    let image = try decodeChecked(i)
    let (h, w) = (sampleShape[0], sampleShape[1])
    let resize = BilinearResize(inHeight: image.height, inWidth: image.width, outHeight: h, outWidth: w, channels: image.channels)
    image.pixels.withUnsafeBufferPointer { p in resize.forward(read: { Float(p[$0]) }, into: out) }
    if options.divisor != 1 {
      for j in 0..<sampleWidth { out[j] /= options.divisor }
    }
  }

  /// Decodes files `rows` into consecutive samples of `out`, split across `threads` threads.
  /// The first failure (by position) is thrown, naming its file.
  public func decode(rows: [Int], into out: UnsafeMutablePointer<Float>, threads: Int) throws {
    let width = sampleWidth
    let parts = Swift.max(1, Swift.min(threads, rows.count))
    let failures = FailureList(count: parts)
    let base = UnsafeSendablePointer(out)
    DispatchQueue.concurrentPerform(iterations: parts) { part in
      let range = (part * rows.count / parts)..<((part + 1) * rows.count / parts)
      for j in range {
        do {
          try decode(rows[j], into: base.pointer + j * width)
        } catch {
          failures.set(part, error)
          return
        }
      }
    }
    if let e = failures.first { throw e }
  }

  /// Every image, decoded: x (n, H, W, C), bytes when no image needed resizing, else float32.
  public func decodeAll(threads: Int) throws -> SampleArray {
    let width = sampleWidth
    var bytes = [UInt8](repeating: 0, count: count * width)
    let resized = ResizedImages()
    let parts = Swift.max(1, Swift.min(threads, count))
    let failures = FailureList(count: parts)
    try bytes.withUnsafeMutableBufferPointer { b in
      let base = UnsafeSendableBytes(b.baseAddress!)
      DispatchQueue.concurrentPerform(iterations: parts) { part in
        for i in (part * count / parts)..<((part + 1) * count / parts) {
          do {
            let image = try decodeChecked(i)
            if image.height == sampleShape[0] && image.width == sampleShape[1] {
              (base.pointer + i * width).update(from: image.pixels, count: width)
            } else {
              var floats = [Float](repeating: 0, count: width)
              try floats.withUnsafeMutableBufferPointer { try decode(i, into: $0.baseAddress!) }
              resized.set(i, floats)
            }
          } catch {
            failures.set(part, error)
            return
          }
        }
      }
      if let e = failures.first { throw e }
    }
    let shape = [count] + sampleShape
    guard !resized.isEmpty else { return try SampleArray(shape: shape, uint8: bytes, divisor: options.divisor) }
    var values = bytes.map { Float($0) / options.divisor }
    for (i, floats) in resized.all { values.replaceSubrange((i * width)..<((i + 1) * width), with: floats) }
    return try SampleArray(shape: shape, float32: values)
  }
}

struct UnsafeSendableBytes: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<UInt8>
  init(_ p: UnsafeMutablePointer<UInt8>) { pointer = p }
}

/// The resized images of a concurrent decode, by index.
final class ResizedImages: @unchecked Sendable {
  private let lock = NSLock()
  private var images: [Int: [Float]] = [:]
  func set(_ i: Int, _ v: [Float]) {
    lock.lock()
    images[i] = v
    lock.unlock()
  }
  var isEmpty: Bool { images.isEmpty }
  var all: [Int: [Float]] { images }
}

/// A pointer handed to concurrent parts that write disjoint ranges.
struct UnsafeSendablePointer: @unchecked Sendable {
  let pointer: UnsafeMutablePointer<Float>
  init(_ p: UnsafeMutablePointer<Float>) { pointer = p }
}

/// The first error of each concurrent part.
final class FailureList: @unchecked Sendable {
  private let lock = NSLock()
  private var errors: [Error?]
  init(count: Int) { errors = Array(repeating: nil, count: count) }
  func set(_ part: Int, _ e: Error) {
    lock.lock()
    errors[part] = e
    lock.unlock()
  }
  var first: Error? { errors.compactMap { $0 }.first }
}
