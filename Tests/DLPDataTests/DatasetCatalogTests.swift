import DLPTensor
import XCTest

@testable import DLPData

final class DatasetCatalogTests: XCTestCase {
  let locator = DatasetLocator(environment: [:], home: URL(fileURLWithPath: "/nonexistent"))

  func testIMDBFixtureIsVectorised() throws {
    let path = TestFiles.fixture("imdb.npz").path
    let splits = try DatasetCatalog.load(
      path, options: DatasetOptions(numWords: 40), locator: locator)
    XCTAssertEqual(splits.name, "imdb")
    XCTAssertEqual(splits.numClasses, 2)
    let keras = try KerasDatasets.imdb(
      try NPZArchive(contentsOf: TestFiles.fixture("imdb.npz")),
      options: KerasSequenceOptions(numWords: 40))
    XCTAssertEqual(splits.train.x.tensor(), try vectorizeSequences(keras.trainX, dimension: 40))
    XCTAssertEqual(splits.train.y.floats(), keras.trainY.map(Float.init))
    XCTAssertEqual(splits.test?.x.shape, [keras.testX.count, 40])
    let few = try DatasetCatalog.load(
      path, options: DatasetOptions(numWords: 40, samples: 5), locator: locator)
    XCTAssertEqual(few.train.x.shape, [5, 40])
    XCTAssertEqual(few.train.y.floats(), Array(splits.train.y.floats().prefix(5)))
    XCTAssertNotEqual(few.contentHash, splits.contentHash)
  }

  /// With a sequence length, the reviews are int32 ids as keras.utils.pad_sequences makes
  /// them (padded and truncated at the start with 0), not multi-hot.
  func testIMDBFixtureAsPaddedSequences() throws {
    let path = TestFiles.fixture("imdb.npz").path
    let splits = try DatasetCatalog.load(
      path, options: DatasetOptions(numWords: 40, sequenceLength: 8), locator: locator)
    let keras = try KerasDatasets.imdb(
      try NPZArchive(contentsOf: TestFiles.fixture("imdb.npz")), options: KerasSequenceOptions(numWords: 40))
    XCTAssertEqual(splits.train.x.dtype, .int32)
    XCTAssertEqual(splits.train.x.shape, [keras.trainX.count, 8])
    XCTAssertEqual(splits.test?.x.shape, [keras.testX.count, 8])
    let rows = splits.train.x.floats()
    for (i, sequence) in keras.trainX.enumerated() {
      let kept = sequence.suffix(8).map(Float.init)
      XCTAssertEqual(Array(rows[(i * 8)..<((i + 1) * 8)]), [Float](repeating: 0, count: 8 - kept.count) + kept, "review \(i)")
    }
    XCTAssertEqual(splits.train.y.floats(), keras.trainY.map(Float.init))
    let reuters = try DatasetCatalog.load(
      TestFiles.fixture("reuters.npz").path, options: DatasetOptions(numWords: 50, sequenceLength: 5), locator: locator)
    XCTAssertEqual(reuters.train.x.shape, [24, 5])
    XCTAssertEqual(reuters.numClasses, 46)
  }

  func testPaddedSequencesFollowKerasPadSequences() throws {
    // keras.utils.pad_sequences([[1, 2, 3, 4], [5], []], maxlen=3, padding=..., truncating=...)
    let s = [[1, 2, 3, 4], [5], []]
    XCTAssertEqual(try paddedSequences(s, maxlen: 3).floats(), [2, 3, 4, 0, 0, 5, 0, 0, 0])
    XCTAssertEqual(try paddedSequences(s, maxlen: 3, padding: .post, truncating: .post).floats(), [1, 2, 3, 5, 0, 0, 0, 0, 0])
    XCTAssertEqual(try paddedSequences(s).shape, [3, 4])
    XCTAssertThrowsError(try paddedSequences([[1 << 40]], maxlen: 2))
  }

  func testReutersFixture() throws {
    let splits = try DatasetCatalog.load(
      TestFiles.fixture("reuters.npz").path, options: DatasetOptions(numWords: 50), locator: locator
    )
    XCTAssertEqual(splits.numClasses, 46)
    XCTAssertEqual(splits.train.x.shape, [24, 50])
    XCTAssertEqual(splits.test?.x.shape, [7, 50])
    let expected = (TestFiles.expected["reuters"] as! [[String: Any]])[0]
    XCTAssertEqual(splits.train.y.floats(), ints(expected["y_train"]).map(Float.init))
  }

  func testBostonHousingByName() throws {
    _ = try TestFiles.shared("boston_housing.npz")
    let shared = DatasetLocator(
      environment: ["DLP_DATA": TestFiles.sharedData.path],
      home: URL(fileURLWithPath: "/nonexistent"))
    let splits = try DatasetCatalog.load(
      "boston_housing", options: DatasetOptions(), locator: shared)
    XCTAssertEqual(splits.train.x.shape, [404, 13])
    XCTAssertEqual(splits.test?.x.shape, [102, 13])
    XCTAssertEqual(splits.train.y.floats()[0], 15.2)
    XCTAssertNil(splits.numClasses)
    // Two loads (two processes, in practice) agree on the hash.
    XCTAssertEqual(
      try DatasetCatalog.load("boston_housing", options: DatasetOptions(), locator: shared)
        .contentHash, splits.contentHash)
  }

  func testCSVWithTargetColumn() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let url = folder.appendingPathComponent("houses.csv")
    try Data("rooms,price,age\n3,100,20\n4,150,5\n".utf8).write(to: url)
    let splits = try DatasetCatalog.load(
      url.path, options: DatasetOptions(targetColumn: "price"), locator: locator)
    XCTAssertEqual(splits.train.x.tensor(), try Tensor(shape: [2, 2], scalars: [3, 20, 4, 5]))
    XCTAssertEqual(splits.train.y.tensor(), Tensor([100, 150]))
    XCTAssertNil(splits.test)
    XCTAssertNil(splits.numClasses)
  }

  func testGenericNPZLayouts() throws {
    let folder = try TestFiles.temporaryFolder(self)
    var xy = NPZWriter()
    try xy.add("x", try Tensor(shape: [10, 2], scalars: (0..<20).map(Float.init)))
    try xy.add(
      "y",
      try NPYArray(shape: [10], dtype: .uint8, littleEndianData: (0..<10).map { UInt8($0 % 3) }))
    let xyURL = folder.appendingPathComponent("mine.npz")
    try xy.write(to: xyURL)
    let splits = try DatasetCatalog.load(xyURL.path, options: DatasetOptions(), locator: locator)
    XCTAssertEqual(splits.train.x.shape, [8, 2])
    XCTAssertEqual(splits.test?.x.shape, [2, 2])
    XCTAssertEqual(splits.numClasses, 3)
    // The Keras shuffle of 10 rows with seed 113, as numpy gives it.
    var rng = NumpyRandomState(seed: 113)
    let order = rng.shuffledIndices(10)
    XCTAssertEqual(splits.train.x.floats()[0..<2], [Float(order[0] * 2), Float(order[0] * 2 + 1)])

    var images = NPZWriter()
    try images.add(
      "x_train", try NPYArray(shape: [2, 2], dtype: .uint8, littleEndianData: [0, 255, 51, 102]))
    try images.add("y_train", Tensor([0.5, 1.5]))
    let imagesURL = folder.appendingPathComponent("pictures.npz")
    try images.write(to: imagesURL)
    let pictures = try DatasetCatalog.load(
      imagesURL.path, options: DatasetOptions(), locator: locator)
    XCTAssertEqual(pictures.train.x.floats(), [0, 1, 0.2, 0.4])
    XCTAssertNil(pictures.test)
    XCTAssertNil(pictures.numClasses)

    var other = NPZWriter()
    try other.add("weights", Tensor([1]))
    let otherURL = folder.appendingPathComponent("other.npz")
    try other.write(to: otherURL)
    assertDataError("expected arrays x_train", "weights") {
      _ = try DatasetCatalog.load(otherURL.path, options: DatasetOptions(), locator: locator)
    }
    assertDataError("--samples must be positive") {
      _ = try DatasetCatalog.load(xyURL.path, options: DatasetOptions(samples: 0), locator: locator)
    }
  }

  func testFashionMNISTByName() throws {
    guard FileManager.default.fileExists(atPath: locator.systemFashionMNIST.path) else {
      throw XCTSkip("Fashion-MNIST not found at \(locator.systemFashionMNIST.path); skipping")
    }
    let start = Date()
    let splits = try DatasetCatalog.load(
      "fashion_mnist", options: DatasetOptions(samples: 1000), locator: locator)
    print(
      "fashion_mnist via the catalog: \(String(format: "%.3f", Date().timeIntervalSince(start))) s")
    XCTAssertEqual(splits.name, "fashion_mnist")
    XCTAssertEqual(splits.train.x.shape, [1000, 28, 28])
    XCTAssertEqual(splits.train.x.dtype, .uint8)
    XCTAssertEqual(splits.test?.x.dtype, .uint8)
    XCTAssertEqual(splits.test?.x.shape, [10000, 28, 28])
    XCTAssertEqual(splits.numClasses, 10)
    XCTAssertEqual(splits.train.x.floats().max(), 1)
    XCTAssertEqual(splits.train.x.floats().min(), 0)
  }
}
