import DLPTensor
import Foundation
import XCTest

@testable import DLPData

/// Images in class folders: PNG/JPEG decoding, the file order and labels Keras's
/// image_dataset_from_directory gives, resizing, and errors that name what is wrong.
final class ImageFolderTests: XCTestCase {
  /// A gray image whose pixel (y, x) is base + 3y + x.
  func gray(_ h: Int, _ w: Int, base: Int) -> [UInt8] {
    (0..<(h * w)).map { UInt8((base + 3 * ($0 / w) + $0 % w) % 256) }
  }

  func write(_ url: URL, _ pixels: [UInt8], _ h: Int, _ w: Int, _ c: Int, jpeg: Bool = false) throws {
    try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    if jpeg {
      try JPEGWriter.write(pixels: pixels, height: h, width: w, channels: c, to: url)
    } else {
      try PNGWriter.write(pixels: pixels, height: h, width: w, channels: c, to: url)
    }
  }

  func testPNGRoundTripsInEveryLayoutAndConvertsColorModes() throws {
    let rgb: [UInt8] = (0..<(4 * 5 * 3)).map { UInt8($0 * 4) }
    for (c, pixels) in [(1, gray(4, 5, base: 7)), (3, rgb), (4, (0..<80).map { UInt8($0 * 3) })] {
      let png = try PNGWriter.encode(pixels: pixels, height: 4, width: 5, channels: c)
      let mode: ColorMode = c == 1 ? .grayscale : c == 3 ? .rgb : .rgba
      let back = try ImageDecoder.decode(png, colorMode: mode, source: "test")
      XCTAssertEqual([back.height, back.width, back.channels], [4, 5, c])
      XCTAssertEqual(back.pixels, pixels)
    }
    // RGB -> gray with libjpeg's BT.601 weights; gray -> RGB replicated; alpha added opaque.
    let png = try PNGWriter.encode(pixels: rgb, height: 4, width: 5, channels: 3)
    let g = try ImageDecoder.decode(png, colorMode: .grayscale, source: "t").pixels
    for i in 0..<20 {
      let y = (19595 * Int(rgb[3 * i]) + 38470 * Int(rgb[3 * i + 1]) + 7471 * Int(rgb[3 * i + 2]) + 32768) >> 16
      XCTAssertEqual(Int(g[i]), y)
    }
    let grayPNG = try PNGWriter.encode(pixels: gray(2, 2, base: 9), height: 2, width: 2, channels: 1)
    XCTAssertEqual(
      try ImageDecoder.decode(grayPNG, colorMode: .rgba, source: "t").pixels,
      [9, 9, 9, 255, 10, 10, 10, 255, 12, 12, 12, 255, 13, 13, 13, 255])
  }

  func testJPEGDecodesCloseToWhatWasEncoded() throws {
    let pixels = gray(16, 16, base: 40)
    let jpeg = try JPEGWriter.encode(pixels: pixels, height: 16, width: 16, channels: 1, quality: 95)
    let back = try ImageDecoder.decode(jpeg, colorMode: .grayscale, source: "t")
    XCTAssertEqual([back.height, back.width, back.channels], [16, 16, 1])
    let error = zip(back.pixels, pixels).map { abs(Int($0) - Int($1)) }.reduce(0, +) / pixels.count
    XCTAssertLessThanOrEqual(error, 2)
    XCTAssertEqual(try ImageDecoder.decode(jpeg, colorMode: .rgb, source: "t").channels, 3)
    XCTAssertThrowsError(try ImageDecoder.decode(Array(jpeg.prefix(40)), colorMode: .rgb, source: "cut.jpg")) { e in
      XCTAssertTrue("\(e)".contains("cut.jpg"), "\(e)")
    }
  }

  /// TF's half-pixel bilinear on a 1 x 2 image widened to 4: samples at -0.25, 0.25, 0.75,
  /// 1.25, clamped at the edges.
  func testResizeIsTensorFlowsBilinear() throws {
    let r = BilinearResize(inHeight: 1, inWidth: 2, outHeight: 1, outWidth: 4, channels: 1)
    var out = [Float](repeating: 0, count: 4)
    let x: [Float] = [0, 10]
    out.withUnsafeMutableBufferPointer { r.forward(x, into: $0.baseAddress!) }
    XCTAssertEqual(out, [0, 2.5, 7.5, 10])
    let same = BilinearResize(inHeight: 3, inWidth: 2, outHeight: 3, outWidth: 2, channels: 1)
    var copy = [Float](repeating: 0, count: 6)
    let y: [Float] = [1, 2, 3, 4, 5, 6]
    copy.withUnsafeMutableBufferPointer { same.forward(y, into: $0.baseAddress!) }
    XCTAssertEqual(copy, y)
  }

  func makeFolder() throws -> URL {
    let root = try TestFiles.temporaryFolder(self)
    for i in 0..<5 { try write(root.appendingPathComponent("b_cats/\(i).png"), gray(6, 4, base: i), 6, 4, 1) }
    try write(root.appendingPathComponent("b_cats/deeper/z.jpg"), gray(6, 4, base: 50), 6, 4, 1, jpeg: true)
    for i in 0..<3 {
      try write(root.appendingPathComponent("a_dogs/\(i).JPEG"), gray(6, 4, base: 100 + i), 6, 4, 1, jpeg: true)
    }
    try Data("notes".utf8).write(to: root.appendingPathComponent("a_dogs/readme.txt"))
    try write(root.appendingPathComponent(".hidden/x.png"), gray(6, 4, base: 0), 6, 4, 1)
    return root
  }

  func testFolderOrderLabelsAndShuffle() throws {
    let root = try makeFolder()
    XCTAssertTrue(ImageFolder.looksLikeImageFolder(root))
    let plain = try ImageFolder(root: root, seed: 0, shuffle: false)
    XCTAssertEqual(plain.classNames, ["a_dogs", "b_cats"])
    XCTAssertEqual(
      plain.files.map(\.lastPathComponent),
      ["0.JPEG", "1.JPEG", "2.JPEG", "0.png", "1.png", "2.png", "3.png", "4.png", "z.jpg"])
    XCTAssertEqual(plain.labels, [0, 0, 0, 1, 1, 1, 1, 1, 1])
    // Keras: np.random.RandomState(seed).shuffle of that list.
    let shuffled = try ImageFolder(root: root, seed: 42)
    var order = Array(0..<9)
    var rng = NumpyRandomState(seed64: 42)
    rng.shuffle(&order)
    XCTAssertEqual(shuffled.files, order.map { plain.files[$0] })
    XCTAssertEqual(shuffled.labels, order.map { plain.labels[$0] })
    XCTAssertEqual(try plain.labelTensor(.categorical).scalars.prefix(4), [1, 0, 1, 0])
    XCTAssertEqual(try plain.labelTensor(.binary).shape, [9, 1])

    let loader = try ImageFolderLoader(folder: plain, options: ImageFolderOptions(colorMode: .grayscale))
    XCTAssertEqual(loader.sampleShape, [6, 4, 1])
    let x = try loader.decodeAll(threads: 3)
    XCTAssertEqual(x.shape, [9, 6, 4, 1])
    XCTAssertEqual(x.dtype, .uint8, "no image resized: held as bytes")
    XCTAssertEqual(Array(x.floats()[(3 * 24)..<(3 * 24 + 4)]), [0, 1, 2, 3], "0.png, exact")
    var scaled = ImageFolderOptions(imageSize: [3, 2], colorMode: .rgb)
    scaled.divisor = 255
    let small = try ImageFolderLoader(folder: plain, options: scaled).decodeAll(threads: 2)
    XCTAssertEqual(small.shape, [9, 3, 2, 3])
    XCTAssertEqual(small.dtype, .float32, "resized: fractional values")
    XCTAssertLessThanOrEqual(small.floats().max()!, 1)
  }

  func testDatasetLoadsWithTrainAndTestFolders() throws {
    let root = try TestFiles.temporaryFolder(self)
    for split in ["train", "test"] {
      for (k, cls) in ["x", "y", "z"].enumerated() {
        for i in 0..<(split == "train" ? 4 : 2) {
          try write(root.appendingPathComponent("\(split)/\(cls)/\(i).png"), gray(8, 8, base: 10 * k + i), 8, 8, 1)
        }
      }
    }
    var options = DatasetOptions()
    options.images = ImageFolderOptions(imageSize: [4, 4], colorMode: .grayscale, labelMode: .categorical, seed: 1)
    let splits = try DatasetCatalog.load(root.path, options: options)
    XCTAssertEqual(splits.train.x.shape, [12, 4, 4, 1])
    XCTAssertEqual(splits.train.y.shape, [12, 3])
    XCTAssertEqual(splits.test?.x.shape, [6, 4, 4, 1])
    XCTAssertEqual(splits.numClasses, 3)
    options.samples = 5
    XCTAssertEqual(try DatasetCatalog.load(root.path, options: options).train.count, 5)
  }

  func testErrorsNameTheProblem() throws {
    func message(_ body: () throws -> Void) -> String {
      do { try body() } catch { return "\(error)" }
      return "no error"
    }
    let root = try makeFolder()
    // Label mode binary needs two classes: here it has two, with a third it fails.
    try FileManager.default.createDirectory(
      at: root.appendingPathComponent("c_empty"), withIntermediateDirectories: true)
    XCTAssertTrue(message { _ = try ImageFolder(root: root, seed: 0) }.contains("c_empty has no PNG or JPEG images"))
    try write(root.appendingPathComponent("c_empty/big.png"), gray(7, 4, base: 0), 7, 4, 1)
    let folder = try ImageFolder(root: root, seed: 0, shuffle: false)
    XCTAssertTrue(message { _ = try folder.labelTensor(.binary) }.contains("exactly 2 class folders"))
    let mixed = message {
      _ = try ImageFolderLoader(folder: folder, options: ImageFolderOptions(colorMode: .grayscale)).decodeAll(
        threads: 2)
    }
    XCTAssertTrue(mixed.contains("big.png is 7 x 4") && mixed.contains("--image-size"), mixed)
    try Data("broken".utf8).write(to: root.appendingPathComponent("b_cats/1.png"))
    let broken = message {
      _ = try ImageFolderLoader(folder: folder, options: ImageFolderOptions(imageSize: [6, 4], colorMode: .grayscale))
        .decodeAll(threads: 2)
    }
    XCTAssertTrue(broken.contains("b_cats/1.png") && broken.contains("not a PNG or JPEG"), broken)
    try Data().write(to: root.appendingPathComponent("a_dogs/x.bmp"))
    XCTAssertTrue(message { _ = try ImageFolder(root: root, seed: 0) }.contains("x.bmp"))
    XCTAssertTrue(
      message { _ = try ImageFolder(root: root.appendingPathComponent("nope"), seed: 0) }.contains("is not a folder"))
  }
}
