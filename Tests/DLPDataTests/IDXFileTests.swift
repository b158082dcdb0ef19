import DLPTensor
import XCTest

@testable import DLPData

final class IDXFileTests: XCTestCase {
  var expected: [String: Any] { TestFiles.expected["idx"] as! [String: Any] }

  func testRawAndGzippedGiveTheSameTensor() throws {
    let raw = try IDXFile(contentsOf: TestFiles.fixture("images.idx3-ubyte"))
    let gz = try IDXFile(contentsOf: TestFiles.fixture("images.idx3-ubyte.gz"))
    XCTAssertEqual(raw.elementType, .uint8)
    XCTAssertEqual(raw.shape, [3, 4, 5])
    XCTAssertEqual(try raw.tensor(), try gz.tensor())
    XCTAssertEqual(try raw.tensor().scalars, ints(expected["images"]).map(Float.init))
    XCTAssertEqual(
      try gz.tensor(dividingBy: 255).scalars, ints(expected["images"]).map { Float($0) / 255 })
  }

  func testTheFirstItemsOnlyAreTheFirstItemsOfTheWholeFile() throws {
    for name in ["images.idx3-ubyte", "images.idx3-ubyte.gz"] {
      let whole = try IDXFile(contentsOf: TestFiles.fixture(name)).tensor()
      for n in 0...5 {
        let part = try IDXFile(contentsOf: TestFiles.fixture(name), maxItems: n)
        XCTAssertEqual(part.shape, [min(n, 3), 4, 5], "\(name) first \(n)")
        XCTAssertEqual(try part.tensor().scalars, Array(whole.scalars.prefix(min(n, 3) * 20)), "\(name) first \(n)")
      }
    }
    // A compressed prefix is still checked: cut inside the items kept, it is truncated.
    let gz = try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte.gz"))
    assertDataError("x.gz") { _ = try IDXFile(bytes: Array(gz.prefix(24)), source: "x.gz", maxItems: 3) }
    // A raw file must still match its header in full.
    let raw = try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte"))
    assertDataError("x.idx") { _ = try IDXFile(bytes: Array(raw.dropLast(1)), source: "x.idx", maxItems: 1) }
  }

  func testDebianFashionMNISTFirstSamples() throws {
    let folder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    guard FileManager.default.fileExists(atPath: folder.path) else {
      throw XCTSkip("Fashion-MNIST not found at \(folder.path); skipping")
    }
    let whole = try KerasDatasets.mnist(idxFolder: folder, pixelDivisor: 255)
    let part = try KerasDatasets.mnist(idxFolder: folder, pixelDivisor: 255, maxTrain: 1000)
    XCTAssertEqual(part.train.x.shape, [1000, 28, 28])
    XCTAssertEqual(part.train.x.floats(), Array(whole.train.x.floats().prefix(1000 * 784)))
    XCTAssertEqual(part.train.y.floats(), Array(whole.train.y.floats().prefix(1000)))
    XCTAssertEqual(part.test?.x.shape, [10000, 28, 28])
    // A K-fold sweep without --final asks for no test split.
    let sweep = try DatasetCatalog.load("fashion_mnist", options: DatasetOptions(samples: 100, skipTest: true))
    XCTAssertNil(sweep.test)
    XCTAssertEqual(sweep.train.x.shape.first, 100)
    XCTAssertEqual(sweep.train.x.floats(), Array(whole.train.x.floats().prefix(100 * 784)))
  }

  func testOtherElementTypes() throws {
    let labels = try IDXFile.readTensor(TestFiles.fixture("labels.idx1-ubyte.gz"))
    XCTAssertEqual(labels.shape, [3])
    XCTAssertEqual(labels.scalars, ints(expected["labels"]).map(Float.init))
    let ints32 = try IDXFile(contentsOf: TestFiles.fixture("ints.idx2-int"))
    XCTAssertEqual(ints32.elementType, .int32)
    XCTAssertEqual(try ints32.tensor().shape, [2, 3])
    XCTAssertEqual(ints32.floats(), ints(expected["ints"]).map(Float.init))
    let floats = try IDXFile(contentsOf: TestFiles.fixture("floats.idx1-float"))
    XCTAssertEqual(floats.elementType, .float32)
    XCTAssertEqual(floats.floats(), doubles(expected["floats"]).map(Float.init))
  }

  func testHeaderAndSizeChecks() throws {
    let good = try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte"))
    assertDataError("x.idx", "truncated") {
      _ = try IDXFile(bytes: Array(good.dropLast()), source: "x.idx")
    }
    assertDataError("x.idx", "holds 61 bytes") {
      _ = try IDXFile(bytes: good + [0], source: "x.idx")
    }
    var badMagic = good
    badMagic[0] = 1
    assertDataError("x.idx", "two zero bytes") { _ = try IDXFile(bytes: badMagic, source: "x.idx") }
    var badType = good
    badType[2] = 0x07
    assertDataError("x.idx", "element type 0x7") {
      _ = try IDXFile(bytes: badType, source: "x.idx")
    }
    var huge = good
    for i in 4..<16 { huge[i] = 0xFF }
    assertDataError("x.idx") { _ = try IDXFile(bytes: huge, source: "x.idx") }
    for length in 0..<good.count {
      assertDataError("x.idx") { _ = try IDXFile(bytes: Array(good[..<length]), source: "x.idx") }
    }
    let gz = try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte.gz"))
    assertDataError("x.gz") { _ = try IDXFile(bytes: Array(gz.dropLast(5)), source: "x.gz") }
  }

  func testSharedMNISTTestSet() throws {
    let images = try IDXFile(contentsOf: try TestFiles.shared("mnist/t10k-images-idx3-ubyte.gz"))
    let labels = try IDXFile(contentsOf: try TestFiles.shared("mnist/t10k-labels-idx1-ubyte.gz"))
    XCTAssertEqual(images.shape, [10000, 28, 28])
    XCTAssertEqual(labels.shape, [10000])
    // The first MNIST test digit is a 7.
    XCTAssertEqual(labels.floats()[0], 7)
    XCTAssertEqual(images.floats(dividingBy: 255).max(), 1)
  }

  func testDebianFashionMNIST() throws {
    let folder = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
    guard FileManager.default.fileExists(atPath: folder.path) else {
      throw XCTSkip("Fashion-MNIST not found at \(folder.path); skipping")
    }
    let start = Date()
    let data = try KerasDatasets.mnist(idxFolder: folder, pixelDivisor: 255)
    let seconds = Date().timeIntervalSince(start)
    XCTAssertEqual(data.train.x.shape, [60000, 28, 28])
    XCTAssertEqual(data.train.y.shape, [60000])
    XCTAssertEqual(data.test?.x.shape, [10000, 28, 28])
    // The images stay the file's bytes (a quarter of Float32), divided when a batch is gathered.
    XCTAssertEqual(data.train.x.dtype, .uint8)
    guard case .uint8(_, let divisor) = data.train.x.storage else { return XCTFail("not bytes") }
    XCTAssertEqual(divisor, 255)
    // Fashion-MNIST is balanced: 6000 training and 1000 test images per class.
    var trainCounts = [Int](repeating: 0, count: 10)
    for label in data.train.y.floats() { trainCounts[Int(label)] += 1 }
    XCTAssertEqual(trainCounts, [Int](repeating: 6000, count: 10))
    var testCounts = [Int](repeating: 0, count: 10)
    for label in data.test!.y.floats() { testCounts[Int(label)] += 1 }
    XCTAssertEqual(testCounts, [Int](repeating: 1000, count: 10))
    print("Fashion-MNIST loaded in \(String(format: "%.3f", seconds)) s")
  }
}
