import DLPTensor
import XCTest

@testable import DLPData

final class GzipTests: XCTestCase {
  func gz() throws -> [UInt8] { try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte.gz")) }
  func raw() throws -> [UInt8] { try FileIO.readBytes(TestFiles.fixture("images.idx3-ubyte")) }

  func testGunzipMatchesRawFile() throws {
    XCTAssertTrue(Gzip.isGzip(try gz()))
    XCTAssertFalse(Gzip.isGzip(try raw()))
    XCTAssertEqual(try Gzip.gunzip(try gz(), source: "images.gz"), try raw())
  }

  func testConcatenatedMembersAreJoined() throws {
    let twice = try gz() + gz()
    XCTAssertEqual(try Gzip.gunzip(twice, source: "twice.gz"), try raw() + raw())
  }

  func testSmallInitialGuessGrowsOutput() throws {
    // A lying ISIZE trailer only affects the first buffer size; zlib's own check catches it.
    var bytes = try gz()
    let n = bytes.count
    bytes[n - 4] = 1
    bytes[n - 3] = 0
    assertDataError("lie.gz") { _ = try Gzip.gunzip(bytes, source: "lie.gz") }
  }

  func testEveryTruncationThrows() throws {
    let bytes = try gz()
    for length in 0..<bytes.count {
      assertDataError("cut.gz") { _ = try Gzip.gunzip(Array(bytes[..<length]), source: "cut.gz") }
    }
  }

  func testCorruptionThrows() throws {
    let bytes = try gz()
    for position in 10..<bytes.count {
      var corrupt = bytes
      corrupt[position] ^= 0x5A
      assertDataError("bad.gz") { _ = try Gzip.gunzip(corrupt, source: "bad.gz") }
    }
  }

  func testNotGzipAndTrailingGarbage() throws {
    assertDataError("plain", "not a gzip") { _ = try Gzip.gunzip(try raw(), source: "plain") }
    assertDataError("tail.gz", "unexpected data") {
      _ = try Gzip.gunzip(try gz() + [1, 2, 3], source: "tail.gz")
    }
    // Zero padding after the stream (tape blocks) is accepted, as gunzip does.
    XCTAssertEqual(try Gzip.gunzip(try gz() + [0, 0, 0, 0], source: "pad.gz"), try raw())
  }

  func testOutputLimit() throws {
    assertDataError("small.gz", "more than 10 bytes") {
      _ = try Gzip.gunzip(try gz(), source: "small.gz", maxOutput: 10)
    }
  }

  func testRawInflate() throws {
    // A gzip member without optional fields is a 10-byte header, raw deflate, an 8-byte trailer.
    let bytes = try gz()
    let deflated = bytes[10..<(bytes.count - 8)]
    let expected = try raw()
    XCTAssertEqual(
      try Gzip.inflateRaw(deflated, expectedSize: expected.count, source: "e"), expected)
    assertDataError("e", "header says") {
      _ = try Gzip.inflateRaw(deflated, expectedSize: expected.count + 1, source: "e")
    }
    assertDataError("e") {
      _ = try Gzip.inflateRaw(deflated, expectedSize: expected.count - 1, source: "e")
    }
    assertDataError("e", "truncated") {
      _ = try Gzip.inflateRaw(deflated.dropLast(3), expectedSize: expected.count, source: "e")
    }
    assertDataError("e") { _ = try Gzip.inflateRaw([][...], expectedSize: 0, source: "e") }
  }

  func testCRC32() {
    XCTAssertEqual(Gzip.crc32(Array("123456789".utf8)[...]), 0xCBF4_3926)
    XCTAssertEqual(Gzip.crc32([][...]), 0)
  }
}
