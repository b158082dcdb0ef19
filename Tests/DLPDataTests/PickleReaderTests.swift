import DLPTensor
import XCTest

@testable import DLPData

/// Builds pickles opcode by opcode, as Python 2's numpy would have written them.
struct PickleBuilder {
  var bytes: [UInt8] = []

  mutating func op(_ code: UInt8, _ args: [UInt8] = []) { bytes += [code] + args }
  mutating func global(_ module: String, _ name: String) {
    op(0x63, Array("\(module)\n\(name)\n".utf8))
  }
  mutating func shortString(_ s: String) { op(0x55, [UInt8(s.utf8.count)] + Array(s.utf8)) }
  mutating func int(_ v: Int32) { op(0x4A, withUnsafeBytes(of: v.littleEndian, Array.init)) }
  mutating func uint8(_ v: UInt8) { op(0x4B, [v]) }

  /// The prologue of a Python 2 protocol-2 object-array pickle, up to the element list.
  mutating func objectArrayStart(count: Int32) {
    op(0x80, [2])
    global("numpy.core.multiarray", "_reconstruct")
    op(0x71, [1])  // BINPUT
    global("numpy", "ndarray")
    uint8(0)
    op(0x85)  // TUPLE1
    shortString("b")
    op(0x87)  // TUPLE3
    op(0x52)  // REDUCE
    op(0x28)  // MARK
    uint8(1)
    int(count)
    op(0x85)
    global("numpy", "dtype")
    shortString("O8")
    op(0x89)
    op(0x88)
    op(0x87)
    op(0x52)
    op(0x28)
    uint8(3)
    shortString("|")
    op(0x4E)
    op(0x4E)
    op(0x4E)
    int(-1)
    int(-1)
    uint8(63)
    op(0x74)  // TUPLE
    op(0x62)  // BUILD (dtype)
    op(0x89)  // NEWFALSE: not Fortran
  }

  mutating func objectArrayEnd() {
    op(0x74)  // TUPLE (the state)
    op(0x62)  // BUILD (array)
    op(0x2E)  // STOP
  }

  func npy(count: Int) -> [UInt8] {
    NPYHeader(descr: "|O", fortranOrder: false, shape: [count]).encoded() + bytes
  }
}

final class PickleReaderTests: XCTestCase {
  func read(_ bytes: [UInt8]) throws -> [[Int]] {
    try NPYArray(npyBytes: bytes, source: "p.npy").sequenceList()
  }

  func testPython2Protocol2ObjectArray() throws {
    var p = PickleBuilder()
    p.objectArrayStart(count: 3)
    p.op(0x5D)  // EMPTY_LIST (the elements)
    p.op(0x72, [0x2C, 0x01, 0, 0])  // LONG_BINPUT 300
    p.op(0x28)  // MARK
    p.op(0x5D)
    p.op(0x72, [0x2D, 0x01, 0, 0])  // LONG_BINPUT 301
    p.op(0x28)
    p.uint8(1)
    p.op(0x4D, [0x2C, 0x01])  // BININT2 300
    p.int(70000)
    p.op(0x8A, [5, 0, 0, 0, 0, 1])  // LONG1 2^32
    p.op(0x8A, [1, 0xFF])  // LONG1 -1
    p.op(0x65)  // APPENDS
    p.op(0x6A, [0x2D, 0x01, 0, 0])  // LONG_BINGET 301: the same list again
    p.op(0x29)  // EMPTY_TUPLE: an empty sequence
    p.op(0x65)  // APPENDS
    p.objectArrayEnd()
    XCTAssertEqual(
      try read(p.npy(count: 3)), [[1, 300, 70000, 1 << 32, -1], [1, 300, 70000, 1 << 32, -1], []])
  }

  func testNumpyInnerArraysAndProtocol4() throws {
    let array = try NPYArray(
      npyBytes: try FileIO.readBytes(TestFiles.fixture("ragged_arrays.npy")), source: "r.npy")
    XCTAssertEqual(array.dtype, .object)
    XCTAssertEqual(array.sequences, intLists(TestFiles.expected["ragged_arrays"]))
  }

  func testRefusesOtherGlobals() throws {
    for (module, name) in [
      ("os", "system"), ("builtins", "eval"), ("numpy", "load"), ("subprocess", "Popen"),
    ] {
      var p = PickleBuilder()
      p.op(0x80, [2])
      p.global(module, name)
      p.shortString("echo pwned")
      p.op(0x85)
      p.op(0x52)
      p.op(0x2E)
      assertDataError("p.npy", "refusing to load '\(module).\(name)'") {
        _ = try read(p.npy(count: 1))
      }
    }
  }

  func testRefusesUnsupportedOpcodesAndBadStructure() throws {
    let cases: [([UInt8], String)] = [
      ([0x80, 2, 0x7D, 0x2E], "unsupported opcode 0x7d"),  // EMPTY_DICT
      ([0x80, 2, 0x49] + Array("1\n".utf8) + [0x2E], "unsupported opcode 0x49"),  // INT (text)
      ([0x80, 6, 0x2E], "protocol 6"),
      ([0x80, 2, 0x52, 0x2E], "stack underflow"),
      ([0x80, 2, 0x68, 9, 0x2E], "memo entry 9"),
      ([0x80, 2, 0x65, 0x2E], "no MARK"),
      ([0x80, 2, 0x4B, 1, 0x2E], "holds a int"),
      ([0x80, 2, 0x58, 0xFF, 0xFF, 0xFF, 0x7F], "longer than the file"),
      ([0x80, 2, 0x4B, 1], "missing STOP"),
      ([0x80, 2, 0x8A, 9] + [UInt8](repeating: 1, count: 9) + [0x2E], "too large"),
    ]
    for (bytes, message) in cases {
      assertDataError("p.npy", message) {
        _ = try read(NPYHeader(descr: "|O", fortranOrder: false, shape: [1]).encoded() + bytes)
      }
    }
  }

  func testRefusesNonIntegerElements() throws {
    var p = PickleBuilder()
    p.objectArrayStart(count: 1)
    p.op(0x5D)
    p.op(0x28)
    p.shortString("a word")
    p.op(0x65)
    p.objectArrayEnd()
    assertDataError("element 0", "only sequences of integers") { _ = try read(p.npy(count: 1)) }

    // A list that contains itself is refused without recursing forever.
    var cyclic = PickleBuilder()
    cyclic.objectArrayStart(count: 1)
    cyclic.op(0x5D)
    cyclic.op(0x28)
    cyclic.op(0x5D)
    cyclic.op(0x71, [7])  // BINPUT 7
    cyclic.op(0x68, [7])  // BINGET 7
    cyclic.op(0x61)  // APPEND: the list now holds itself
    cyclic.op(0x65)
    cyclic.objectArrayEnd()
    assertDataError("holding a list") { _ = try read(cyclic.npy(count: 1)) }
  }

  func testSharedReferencesCannotInflateMemory() throws {
    var p = PickleBuilder()
    p.objectArrayStart(count: 2000)
    p.op(0x5D)
    p.op(0x28)
    p.op(0x5D)
    p.op(0x71, [9])
    p.op(0x28)
    for _ in 0..<500 { p.uint8(7) }
    p.op(0x65)
    for _ in 0..<1999 { p.op(0x68, [9]) }  // the same 500-integer list, 2000 times
    p.op(0x65)
    p.objectArrayEnd()
    assertDataError("more integers than it has bytes") { _ = try read(p.npy(count: 2000)) }
  }

  func testEveryTruncationThrows() throws {
    let good = try FileIO.readBytes(TestFiles.fixture("ragged_arrays.npy"))
    for length in 0..<good.count {
      assertDataError("cut.npy") {
        _ = try NPYArray(npyBytes: Array(good[..<length]), source: "cut.npy")
      }
    }
  }

  func testShapeMustMatchHeader() throws {
    var p = PickleBuilder()
    p.objectArrayStart(count: 2)
    p.op(0x5D)
    p.op(0x28)
    p.op(0x29)
    p.op(0x29)
    p.op(0x65)
    p.objectArrayEnd()
    XCTAssertEqual(try read(p.npy(count: 2)), [[], []])
    assertDataError("differs from header") { _ = try read(p.npy(count: 3)) }
  }
}
