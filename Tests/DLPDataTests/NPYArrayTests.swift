import DLPTensor
import XCTest

@testable import DLPData

final class NPYArrayTests: XCTestCase {
  var expected: [String: Any] { TestFiles.expected["numeric"] as! [String: Any] }

  func testEveryFixtureDTypeLoadsAsNumpyWroteIt() throws {
    for file in ["numeric_stored.npz", "numeric_deflated.npz"] {
      let archive = try NPZArchive(contentsOf: TestFiles.fixture(file))
      XCTAssertEqual(Set(archive.arrayNames), Set(expected.keys))
      for (name, value) in expected {
        let info = value as! [String: Any]
        let array = try archive.array(name)
        XCTAssertEqual(array.shape, ints(info["shape"]), name)
        let descr = info["descr"] as! String
        XCTAssertEqual(array.dtype.rawValue, String(descr.dropFirst()), name)
        XCTAssertEqual(try array.floats(), doubles(info["values"]).map { Float($0) }, name)
        if array.dtype.isInteger {
          XCTAssertEqual(try array.integers(), doubles(info["values"]).map { Int($0) }, name)
        }
      }
    }
  }

  func testFloat64AndInt64KeepFullPrecisionAsIntegers() throws {
    let archive = try NPZArchive(contentsOf: TestFiles.fixture("numeric_stored.npz"))
    XCTAssertEqual(try archive.array("i8").integers(), [-(1 << 40), 7, 0])
    assertDataError("not a whole number") { _ = try archive.array("f8").integers() }
  }

  func testRoundTripAndAlignment() throws {
    let tensor = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, -6.5])
    let bytes = try NPYArray(tensor).npyBytes()
    // numpy aligns the data to 64 bytes and ends the header with a newline.
    let headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
    XCTAssertEqual((10 + headerLength) % 64, 0)
    XCTAssertEqual(bytes[10 + headerLength - 1], 0x0A)
    let text = String(decoding: bytes[10..<(10 + headerLength)], as: UTF8.self)
    XCTAssertTrue(text.hasPrefix("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"))
    let back = try NPYArray(npyBytes: bytes, source: "t.npy")
    XCTAssertEqual(try back.tensor(), tensor)
    for shape in [[], [0], [5], [1, 1, 1]] {
      let t = Tensor(repeating: 2, shape: shape)
      XCTAssertEqual(try NPYArray(npyBytes: try NPYArray(t).npyBytes(), source: "s").tensor(), t)
    }
  }

  func header(_ dict: String, version: UInt8 = 1) -> [UInt8] {
    let body = Array(dict.utf8)
    if version == 1 {
      return NPYHeader.magic + [1, 0, UInt8(body.count & 0xFF), UInt8(body.count >> 8)] + body
    }
    return NPYHeader.magic + [version, 0, UInt8(body.count & 0xFF), UInt8(body.count >> 8), 0, 0]
      + body
  }

  func testHeaderVariants() throws {
    // Python 2's numpy wrote long extents with an L suffix; format 2.0 has a 4-byte length.
    let py2 = header("{'descr': '<i8', 'fortran_order': False, 'shape': (2L,), }\n")
    let a = try NPYArray(
      npyBytes: py2 + [1, 0, 0, 0, 0, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0], source: "p")
    XCTAssertEqual(try a.integers(), [1, 2])
    let v2 = header("{\"descr\": \"|u1\", \"fortran_order\": False, \"shape\": (3,)}", version: 2)
    XCTAssertEqual(try NPYArray(npyBytes: v2 + [7, 8, 9], source: "v2").integers(), [7, 8, 9])
    let scalar = header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }")
    let one = try NPYArray(npyBytes: scalar + [0, 0, 0, 0, 0, 0, 0xF0, 0x3F], source: "s")
    XCTAssertEqual(one.shape, [])
    XCTAssertEqual(try one.floats(), [1])
  }

  func testRejectedHeaders() throws {
    assertDataError("f.npy", "Fortran") {
      _ = try NPYArray(
        npyBytes: header("{'descr': '<f4', 'fortran_order': True, 'shape': (1, 1), }") + [
          0, 0, 0, 0,
        ],
        source: "f.npy")
    }
    assertDataError("c.npy", "unsupported numpy dtype '<c8'") {
      _ = try NPYArray(
        npyBytes: header("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }")
          + [UInt8](
            repeating: 0, count: 8), source: "c.npy")
    }
    assertDataError("s.npy", "structured") {
      _ = try NPYArray(
        npyBytes: header("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }"),
        source: "s.npy")
    }
    assertDataError("t.npy", "truncated") {
      _ = try NPYArray(
        npyBytes: header("{'descr': '<f4', 'fortran_order': False, 'shape': (4,), }") + [0, 0, 0],
        source: "t.npy")
    }
    assertDataError("m.npy", "missing") {
      _ = try NPYArray(npyBytes: Array("hello, world".utf8), source: "m.npy")
    }
    assertDataError("h.npy", "malformed") {
      _ = try NPYArray(npyBytes: header("{'descr': '<f4', 'shape': (1,)"), source: "h.npy")
    }
    assertDataError("b.npy", "too large") {
      _ = try NPYArray(
        npyBytes: header(
          "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
        source: "b.npy")
    }
    let good = try NPYArray(Tensor([1, 2, 3])).npyBytes()
    for length in 0..<good.count {
      assertDataError("cut.npy") {
        _ = try NPYArray(npyBytes: Array(good[..<length]), source: "cut.npy")
      }
    }
  }

  func testSequencesFromTwoDimensionalIntegers() throws {
    let archive = try NPZArchive(contentsOf: TestFiles.fixture("numeric_stored.npz"))
    XCTAssertEqual(try archive.array("i4").sequenceList(), [[-5, 6], [7, 2_147_483_647]])
    assertDataError("expected sequences") { _ = try archive.array("f4").sequenceList() }
  }
}
