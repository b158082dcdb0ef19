import DLPTensor
import Foundation
import XCTest

@testable import DLPData

/// Locations the tests read from, found relative to this source file so that no resources need
/// declaring in Package.swift.
enum TestFiles {
  static let testsFolder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  static let fixtures = testsFolder.appendingPathComponent("Fixtures")
  /// The package root (Tests/DLPDataTests/ is two levels down).
  static let packageRoot = testsFolder.deletingLastPathComponent().deletingLastPathComponent()
  /// The shared data folder next to the checkout (`../shared/data` from the package root).
  static let sharedData = packageRoot.deletingLastPathComponent().appendingPathComponent(
    "shared/data")

  static func fixture(_ name: String) -> URL { fixtures.appendingPathComponent(name) }

  /// A file under the shared data folder, or a skip saying where it was looked for.
  static func shared(_ name: String) throws -> URL {
    let url = sharedData.appendingPathComponent(name)
    guard FileManager.default.fileExists(atPath: url.path) else {
      throw XCTSkip("\(name) not found at \(url.path); skipping")
    }
    return url
  }

  /// The expected values that make_fixtures.py computed with numpy.
  nonisolated(unsafe) static let expected: [String: Any] = {
    let data = try! Data(contentsOf: fixture("expected.json"))
    return try! JSONSerialization.jsonObject(with: data) as! [String: Any]
  }()

  /// A fresh temporary folder, removed when the test ends.
  static func temporaryFolder(_ test: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent(
      "dlpdata-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    test.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
  }
}

/// Asserts that `body` throws a `DLPError.data` whose message contains every fragment.
func assertDataError(
  _ fragments: String..., file: StaticString = #filePath, line: UInt = #line,
  _ body: () throws -> Void
) {
  do {
    try body()
    XCTFail("expected a data error containing \(fragments)", file: file, line: line)
  } catch let DLPError.data(message) {
    for fragment in fragments where !message.contains(fragment) {
      XCTFail("'\(message)' does not contain '\(fragment)'", file: file, line: line)
    }
  } catch {
    XCTFail("expected DLPError.data, got \(error)", file: file, line: line)
  }
}

/// Integers from a JSON array.
func ints(_ value: Any?) -> [Int] { (value as! [Any]).map { ($0 as! NSNumber).intValue } }
/// Doubles from a JSON array of strings (make_fixtures.py writes floats as exact strings).
func doubles(_ value: Any?) -> [Double] {
  (value as! [Any]).map { ($0 as? String).flatMap(Double.init) ?? ($0 as! NSNumber).doubleValue }
}
func intLists(_ value: Any?) -> [[Int]] { (value as! [Any]).map { ints($0) } }
