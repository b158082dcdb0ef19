import DLPTensor
import XCTest

@testable import DLPData

final class NPZArchiveTests: XCTestCase {
  func bytes(_ name: String) throws -> [UInt8] { try FileIO.readBytes(TestFiles.fixture(name)) }

  /// Offset of the end-of-central-directory record.
  func endRecord(_ b: [UInt8]) throws -> Int { try NPZArchive.findEndRecord(b, source: "t") }

  /// Offset of the first central directory entry.
  func centralStart(_ b: [UInt8]) throws -> Int {
    let e = try endRecord(b)
    return Int(b[e + 16]) | Int(b[e + 17]) << 8 | Int(b[e + 18]) << 16 | Int(b[e + 19]) << 24
  }

  func testStoredAndDeflatedEntries() throws {
    let stored = try NPZArchive(contentsOf: TestFiles.fixture("numeric_stored.npz"))
    let deflated = try NPZArchive(contentsOf: TestFiles.fixture("numeric_deflated.npz"))
    XCTAssertTrue(stored.entries.allSatisfy { $0.method == 0 })
    XCTAssertTrue(deflated.entries.allSatisfy { $0.method == 8 })
    XCTAssertEqual(stored.arrayNames, deflated.arrayNames)
    XCTAssertTrue(stored.contains("layer/kernel"))
    for name in stored.arrayNames {
      XCTAssertEqual(try stored.array(name), try deflated.array(name), name)
    }
    XCTAssertEqual(try stored.array("layer/kernel").tensor().shape, [2, 3])
  }

  func testMissingArrayListsWhatIsThere() throws {
    let archive = try NPZArchive(contentsOf: TestFiles.fixture("numeric_stored.npz"))
    assertDataError("no array 'x_train'", "f4", "layer/kernel") { _ = try archive.array("x_train") }
  }

  func testCorruptEntryDataIsDetected() throws {
    for file in ["numeric_stored.npz", "numeric_deflated.npz", "reuters.npz"] {
      let good = try bytes(file)
      let archive = try NPZArchive(bytes: good, source: file)
      for entry in archive.entries {
        // The entry's payload starts after the 30-byte local header, its name and extra field.
        let h = entry.localHeaderOffset
        let start =
          h + 30 + (Int(good[h + 26]) | Int(good[h + 27]) << 8)
          + (Int(good[h + 28]) | Int(good[h + 29]) << 8)
        for position in start..<(start + entry.compressedSize) {
          var corrupt = good
          corrupt[position] ^= 0x41
          let damaged = try NPZArchive(bytes: corrupt, source: file)
          let name = String(entry.name.dropLast(4))
          // A flipped bit in deflate data occasionally decodes to the same bytes (a match that
          // now points at an identical earlier string): no checksum can see that, and it is
          // harmless. Anything else must be an error naming the file and the entry.
          if let array = try? damaged.array(name) {
            XCTAssertEqual(entry.method, 8)
            XCTAssertEqual(
              array, try archive.array(name), "\(file)[\(entry.name)] byte \(position)")
            continue
          }
          assertDataError(file, entry.name) { _ = try damaged.array(name) }
        }
      }
    }
  }

  func testTruncationsThrow() throws {
    let good = try bytes("numeric_deflated.npz")
    for length in stride(from: 0, to: good.count, by: 7) {
      assertDataError("cut.npz") {
        let archive = try NPZArchive(bytes: Array(good[..<length]), source: "cut.npz")
        for name in archive.arrayNames { _ = try archive.array(name) }
      }
    }
    assertDataError("empty.npz", "too short") { _ = try NPZArchive(bytes: [], source: "empty.npz") }
    assertDataError("x", "not a zip") {
      _ = try NPZArchive(bytes: [UInt8](repeating: 7, count: 100), source: "x")
    }
  }

  func testZip64EndRecordIsRefusedClearly() throws {
    var b = try bytes("numeric_stored.npz")
    let e = try endRecord(b)
    b[e + 10] = 0xFF
    b[e + 11] = 0xFF
    assertDataError("zip64") { _ = try NPZArchive(bytes: b, source: "z.npz") }
  }

  func testUnsupportedMethodAndImplausibleSize() throws {
    var b = try bytes("numeric_deflated.npz")
    let c = try centralStart(b)
    var methodPatched = b
    methodPatched[c + 10] = 12  // bzip2
    let archive = try NPZArchive(bytes: methodPatched, source: "m.npz")
    let first = String(archive.entries[0].name.dropLast(4))
    assertDataError("compression method 12") { _ = try archive.array(first) }
    // A deflated entry claiming to expand 100000-fold is refused before allocating.
    for i in 24..<28 { b[c + i] = 0x7F }
    let bomb = try NPZArchive(bytes: b, source: "b.npz")
    assertDataError("implausible") { _ = try bomb.array(first) }
  }

  func testKerasBostonHousingArchive() throws {
    let archive = try NPZArchive(contentsOf: try TestFiles.shared("boston_housing.npz"))
    XCTAssertEqual(Set(archive.arrayNames), ["x", "y"])
    let x = try archive.array("x")
    XCTAssertEqual(x.dtype, .float64)
    XCTAssertEqual(x.shape, [506, 13])
  }
}
