import XCTest

@testable import DLPData

final class WordIndexTests: XCTestCase {
  func testSharedIMDBWordIndex() throws {
    let index = try WordIndex(contentsOf: try TestFiles.shared("imdb_word_index.json"))
    XCTAssertEqual(index.count, 88584)
    XCTAssertEqual(index["the"], 1)
    XCTAssertEqual(index.word(at: 1), "the")
    // Sequences are offset by index_from = 3; 1 (start) and unknown indices decode as '?'.
    XCTAssertEqual(index.decode([1, 4, 999_999]), "? the ?")
  }

  func testLoadByDatasetNameUsesDLPData() throws {
    let folder = try TestFiles.temporaryFolder(self)
    try Data(#"{"good": 1, "movie": 2}"#.utf8).write(
      to: folder.appendingPathComponent("imdb_word_index.json"))
    let locator = DatasetLocator(environment: ["DLP_DATA": folder.path], home: folder)
    let index = try WordIndex.load(dataset: "imdb", locator: locator)
    XCTAssertEqual(index.decode([4, 5]), "good movie")
    assertDataError("reuters_word_index.json not found", folder.path, "get_word_index") {
      _ = try WordIndex.load(dataset: "reuters", locator: locator)
    }
  }

  func testMalformedFiles() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let bad = folder.appendingPathComponent("bad.json")
    try Data("[1, 2".utf8).write(to: bad)
    assertDataError("bad.json", "not valid JSON") { _ = try WordIndex(contentsOf: bad) }
    try Data(#"{"a": "one"}"#.utf8).write(to: bad)
    assertDataError("'a' is not an integer") { _ = try WordIndex(contentsOf: bad) }
  }
}
