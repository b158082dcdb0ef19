import XCTest

@testable import DLPData

final class DatasetLocatorTests: XCTestCase {
  func testExplicitPaths() throws {
    let locator = DatasetLocator(environment: [:])
    let imdb = try locator.resolve(TestFiles.fixture("imdb.npz").path)
    XCTAssertEqual(imdb.name, .imdb)
    XCTAssertEqual(imdb.source, .npz(TestFiles.fixture("imdb.npz")))
    XCTAssertNil(try locator.resolve(TestFiles.fixture("numeric_stored.npz").path).name)
    assertDataError("unknown dataset format") {
      _ = try locator.resolve(TestFiles.fixture("make_fixtures.py").path)
    }
    assertDataError("without MNIST-style IDX files") {
      _ = try locator.resolve(TestFiles.fixtures.path)
    }
  }

  func testNamesSearchDLPDataThenKerasCache() throws {
    let data = try TestFiles.temporaryFolder(self)
    let home = try TestFiles.temporaryFolder(self)
    let keras = home.appendingPathComponent(".keras/datasets")
    try FileManager.default.createDirectory(at: keras, withIntermediateDirectories: true)
    let locator = DatasetLocator(environment: ["DLP_DATA": data.path], home: home)
    try FileManager.default.copyItem(
      at: TestFiles.fixture("reuters.npz"), to: keras.appendingPathComponent("reuters.npz"))
    XCTAssertEqual(
      try locator.resolve("reuters").source, .npz(keras.appendingPathComponent("reuters.npz")))
    try FileManager.default.copyItem(
      at: TestFiles.fixture("reuters.npz"), to: data.appendingPathComponent("reuters.npz"))
    XCTAssertEqual(
      try locator.resolve("reuters").source, .npz(data.appendingPathComponent("reuters.npz")))
  }

  func testNotFoundListsEveryPlaceAndHowToGetIt() throws {
    let home = try TestFiles.temporaryFolder(self)
    let locator = DatasetLocator(environment: [:], home: home)
    assertDataError(
      "dataset 'imdb' not found", "$DLP_DATA (not set)", home.path + "/.keras/datasets/imdb.npz",
      "keras.datasets.imdb.load_data()", "~/.keras/datasets/imdb.npz"
    ) { _ = try locator.resolve("imdb") }
    let noFashion = DatasetLocator(
      environment: [:], home: home, systemFashionMNIST: home.appendingPathComponent("none"))
    assertDataError("fashion_mnist", "apt-get install dataset-fashion-mnist", home.path + "/none") {
      _ = try noFashion.resolve("fashion-mnist")
    }
    assertDataError("neither an existing path nor a known name") {
      _ = try locator.resolve("cifar10")
    }
  }

  func testIncompleteMNISTFolderIsReported() throws {
    // The shared data folder has MNIST's test files only.
    _ = try TestFiles.shared("mnist/t10k-images-idx3-ubyte.gz")
    let home = try TestFiles.temporaryFolder(self)
    let locator = DatasetLocator(environment: ["DLP_DATA": TestFiles.sharedData.path], home: home)
    assertDataError("dataset 'mnist' not found", "mnist.npz", "exists, but lacks") {
      _ = try locator.resolve("mnist")
    }
  }

  func testDebianFashionMNIST() throws {
    let locator = DatasetLocator(environment: [:], home: try TestFiles.temporaryFolder(self))
    guard FileManager.default.fileExists(atPath: locator.systemFashionMNIST.path) else {
      throw XCTSkip("Fashion-MNIST not found at \(locator.systemFashionMNIST.path); skipping")
    }
    XCTAssertEqual(
      try locator.resolve("fashion_mnist"),
      ResolvedDataset(name: .fashionMNIST, source: .idxFolder(locator.systemFashionMNIST)))
  }

  func testFileStems() {
    XCTAssertEqual(DatasetName(fileStem: "fashion-mnist"), .fashionMNIST)
    XCTAssertEqual(DatasetName(fileStem: "mnist_small"), .mnist)
    XCTAssertEqual(DatasetName(fileStem: "imdb"), .imdb)
    XCTAssertNil(DatasetName(fileStem: "imdbx"))
  }
}
