import DLPTensor
import XCTest

@testable import DLPData

final class KerasDatasetsTests: XCTestCase {
  /// Keras's keyword arguments, as make_fixtures.py recorded them (null means None).
  func options(_ json: [String: Any]) -> KerasSequenceOptions {
    var o = KerasSequenceOptions()
    func int(_ key: String) -> Int? { (json[key] as? NSNumber)?.intValue }
    if let v = int("num_words") { o.numWords = v }
    if let v = int("skip_top") { o.skipTop = v }
    if let v = int("maxlen") { o.maxlen = v }
    if let v = int("seed") { o.seed = UInt32(v) }
    if let v = int("index_from") { o.indexFrom = v }
    if json.keys.contains("start_char") { o.startChar = int("start_char") }
    if json.keys.contains("oov_char") { o.oovChar = int("oov_char") }
    if let v = json["test_split"] as? NSNumber { o.testSplit = v.doubleValue }
    return o
  }

  func check(_ dataset: String, _ load: (NPZArchive, KerasSequenceOptions) throws -> SequenceSplits)
    throws
  {
    let archive = try NPZArchive(contentsOf: TestFiles.fixture("\(dataset).npz"))
    let cases = TestFiles.expected[dataset] as! [[String: Any]]
    XCTAssertGreaterThan(cases.count, 5)
    for item in cases {
      let o = item["options"] as! [String: Any]
      let result = try load(archive, options(o))
      XCTAssertEqual(result.trainX, intLists(item["x_train"]), "\(dataset) \(o)")
      XCTAssertEqual(result.trainY, ints(item["y_train"]), "\(dataset) \(o)")
      XCTAssertEqual(result.testX, intLists(item["x_test"]), "\(dataset) \(o)")
      XCTAssertEqual(result.testY, ints(item["y_test"]), "\(dataset) \(o)")
    }
  }

  func testIMDBMatchesKeras() throws {
    try check("imdb") { try KerasDatasets.imdb($0, options: $1) }
  }

  func testReutersMatchesKeras() throws {
    try check("reuters") { try KerasDatasets.reuters($0, options: $1) }
  }

  func testIMDBMaxlenThatKeepsNothingFails() throws {
    let archive = try NPZArchive(contentsOf: TestFiles.fixture("imdb.npz"))
    assertDataError("no sequence was kept") {
      _ = try KerasDatasets.imdb(archive, options: KerasSequenceOptions(maxlen: 1))
    }
  }

  func testBostonHousingSplitsLikeKeras() throws {
    let archive = try NPZArchive(contentsOf: try TestFiles.shared("boston_housing.npz"))
    let (train, test) = try KerasDatasets.bostonHousing(archive)
    XCTAssertEqual(train.x.shape, [404, 13])
    XCTAssertEqual(train.y.shape, [404])
    XCTAssertEqual(test.x.shape, [102, 13])
    XCTAssertEqual(train.y.floats().first, 15.2)
    XCTAssertEqual(Array(train.y.floats().prefix(5)), [15.2, 42.3, 50, 21.1, 17.7])
  }

  func testSplitIndexIsPythonsInt() {
    XCTAssertEqual(KerasDatasets.kerasSplitIndex(506, testSplit: 0.2), 404)
    XCTAssertEqual(KerasDatasets.kerasSplitIndex(11228, testSplit: 0.2), 8982)
    XCTAssertEqual(KerasDatasets.kerasSplitIndex(31, testSplit: 0.5), 15)
  }

  func testMNISTFromNPZ() throws {
    let folder = try TestFiles.temporaryFolder(self)
    var writer = NPZWriter()
    let pixels: [UInt8] = (0..<(2 * 2 * 3)).map { UInt8($0 * 20) }
    try writer.add(
      "x_train", try NPYArray(shape: [2, 2, 3], dtype: .uint8, littleEndianData: pixels))
    try writer.add("y_train", try NPYArray(shape: [2], dtype: .uint8, littleEndianData: [4, 9]))
    try writer.add(
      "x_test",
      try NPYArray(shape: [1, 2, 3], dtype: .uint8, littleEndianData: Array(pixels[..<6])))
    try writer.add("y_test", try NPYArray(shape: [1], dtype: .uint8, littleEndianData: [1]))
    let url = folder.appendingPathComponent("mnist.npz")
    try writer.write(to: url)
    let data = try KerasDatasets.mnist(npz: try NPZArchive(contentsOf: url), pixelDivisor: 255)
    XCTAssertEqual(data.train.x.shape, [2, 2, 3])
    XCTAssertEqual(data.train.x.floats(), pixels.map { Float($0) / 255 })
    XCTAssertEqual(data.train.y.floats(), [4, 9])
    XCTAssertEqual(data.test.y.floats(), [1])
  }

  func testMNISTFromIDXFolder() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let fm = FileManager.default
    try fm.copyItem(
      at: TestFiles.fixture("images.idx3-ubyte.gz"),
      to: folder.appendingPathComponent("train-images-idx3-ubyte.gz"))
    assertDataError("no MNIST training files") { _ = try KerasDatasets.mnist(idxFolder: folder) }
    try fm.copyItem(
      at: TestFiles.fixture("labels.idx1-ubyte.gz"),
      to: folder.appendingPathComponent("train-labels-idx1-ubyte.gz"))
    let trainOnly = try KerasDatasets.mnist(idxFolder: folder)
    XCTAssertEqual(trainOnly.train.x.shape, [3, 4, 5])
    XCTAssertNil(trainOnly.test)
    // Uncompressed files with the dotted names some archives unpack to.
    try fm.copyItem(
      at: TestFiles.fixture("images.idx3-ubyte"),
      to: folder.appendingPathComponent("t10k-images.idx3-ubyte"))
    try fm.copyItem(
      at: TestFiles.fixture("labels.idx1-ubyte.gz"),
      to: folder.appendingPathComponent("t10k-labels-idx1-ubyte.gz"))
    let both = try KerasDatasets.mnist(idxFolder: folder, pixelDivisor: 255)
    XCTAssertEqual(both.test?.x, both.train.x)
    XCTAssertEqual(
      both.train.y.floats(),
      ints(((TestFiles.expected["idx"]) as! [String: Any])["labels"]).map(Float.init))
  }

  func testMismatchedImagesAndLabels() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let fm = FileManager.default
    try fm.copyItem(
      at: TestFiles.fixture("images.idx3-ubyte"),
      to: folder.appendingPathComponent("train-images-idx3-ubyte"))
    try fm.copyItem(
      at: TestFiles.fixture("floats.idx1-float"),
      to: folder.appendingPathComponent("train-labels-idx1-ubyte"))
    // 3 images but the "labels" file is fine-length 3 floats: counts agree, so it loads...
    XCTAssertNoThrow(try KerasDatasets.mnist(idxFolder: folder))
    try fm.removeItem(at: folder.appendingPathComponent("train-labels-idx1-ubyte"))
    try fm.copyItem(
      at: TestFiles.fixture("ints.idx2-int"),
      to: folder.appendingPathComponent("train-labels-idx1-ubyte"))
    // ...while a 2-D labels file is refused.
    assertDataError("labels of shape [2, 3]") { _ = try KerasDatasets.mnist(idxFolder: folder) }
  }
}
