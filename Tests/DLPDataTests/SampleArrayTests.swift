import DLPTensor
import Foundation
import XCTest

@testable import DLPData

/// Typed sample storage: views are views, gathers keep the element type, and a batch becomes
/// Float32 values (or Int32 ids) only when its rows are copied out.
final class SampleArrayTests: XCTestCase {
  /// The address of the first stored element: equal addresses mean shared memory.
  func address(_ s: SampleArray) -> UnsafeRawPointer? { s.withUnsafeBytes { $0.baseAddress } }

  func copied(_ s: SampleArray, rows ids: [Int], as delivery: SampleDelivery) -> [Float] {
    var out = [Float](repeating: .nan, count: ids.count * s.rowWidth)
    ids.withUnsafeBufferPointer { i in
      out.withUnsafeMutableBufferPointer { s.copyRows(i, 0..<ids.count, to: $0.baseAddress!, delivery: delivery) }
    }
    return out
  }

  func testRowsAreViewsAndGathersKeepTheElementType() throws {
    let bytes = (0..<24).map { UInt8($0 * 10) }
    let a = try SampleArray(shape: [4, 2, 3], uint8: bytes, divisor: 255)
    XCTAssertEqual(a.rows, 4)
    XCTAssertEqual(a.rowWidth, 6)
    let tail = try a.rows(2..<4)
    XCTAssertEqual(tail.shape, [2, 2, 3])
    XCTAssertEqual(address(tail), address(a)! + 12, "a row range is a view of the same bytes")
    XCTAssertEqual(tail.floats(), bytes[12...].map { Float($0) / 255 })
    let flat = try tail.reshaped(to: [2, -1])
    XCTAssertEqual(flat.shape, [2, 6])
    XCTAssertEqual(address(flat), address(tail), "a reshape is a view")

    let picked = try a.gathering(rows: [3, 0, 3])
    XCTAssertEqual(picked.dtype, .uint8)
    XCTAssertEqual(picked.storage, .uint8((Array(bytes[18...]) + bytes[..<6] + bytes[18...])[...], divisor: 255))
    XCTAssertNotEqual(address(picked), address(a))

    let own = tail.compacted()
    XCTAssertEqual(own, tail)
    XCTAssertNotEqual(address(own), address(tail), "compacted holds its own memory")

    XCTAssertThrowsError(try a.rows(3..<5))
    XCTAssertThrowsError(try a.gathering(rows: [0, 4]))
    XCTAssertThrowsError(try SampleArray(shape: [4, 5], uint8: bytes))
    XCTAssertThrowsError(try a.reshaped(to: [5, -1]))
  }

  func testATensorIsSharedNotCopied() throws {
    let t = try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
    let s = SampleArray(t)
    XCTAssertEqual(s.dtype, .float32)
    t.scalars.withUnsafeBytes { XCTAssertEqual(address(s), UnsafeRawPointer($0.baseAddress)) }
    XCTAssertEqual(s.tensor(), t)
  }

  func testRowsBecomeValuesAsNumpyComputesThem() throws {
    // Every byte value: Float(v) / 255 is what x.astype("float32") / 255 gives (a division).
    let bytes = (0..<256).map(UInt8.init)
    let images = try SampleArray(shape: [16, 16], uint8: bytes, divisor: 255)
    let values = copied(images, rows: [15, 0, 7], as: .values)
    for (j, r) in [15, 0, 7].enumerated() {
      for c in 0..<16 {
        XCTAssertEqual(values[j * 16 + c].bitPattern, (Float(r * 16 + c) / 255).bitPattern)
      }
    }
    let ints = try SampleArray(shape: [2, 2], int32: [-3, 7, 16_777_217, 2])
    XCTAssertEqual(copied(ints, rows: [1, 0], as: .values), [16_777_216, 2, -3, 7])
    let floats = try SampleArray(shape: [2, 1], float32: [0.5, -1])
    XCTAssertEqual(copied(floats, rows: [1, 1, 0], as: .values), [-1, -1, 0.5])
  }

  func testIdsAreDeliveredBitForBit() throws {
    // 16777217 has no Float32; a round trip through Float would make it 16777216.
    let ids: [Int32] = [0, 16_777_217, -5, Int32.max, 9_999, 1]
    let tokens = try SampleArray(shape: [3, 2], int32: ids)
    let out = copied(tokens, rows: [2, 0, 1], as: .int32Bits)
    XCTAssertEqual(out.map { Int32(bitPattern: $0.bitPattern) }, [9_999, 1, 0, 16_777_217, -5, Int32.max])
    let small = try SampleArray(shape: [1, 3], uint8: [200, 0, 7], divisor: 255)
    XCTAssertEqual(copied(small, rows: [0], as: .int32Bits).map { Int32(bitPattern: $0.bitPattern) }, [200, 0, 7])
  }

  func testRowsForStatisticsAreValues() throws {
    let a = try SampleArray(shape: [3, 2], uint8: [0, 255, 51, 102, 255, 0], divisor: 255)
    var seen: [[Float]] = []
    a.forEachRow { r, row in
      XCTAssertEqual(r, seen.count)
      seen.append(Array(row))
    }
    XCTAssertEqual(seen, [[0, 1], [0.2, 0.4], [1, 0]])
    let norm = try Normalizer(fitting: a)
    XCTAssertEqual(try norm.apply(a).tensor(), try norm.apply(a.tensor()))
    XCTAssertEqual(norm, try Normalizer(fitting: a.tensor()))
  }

  func testNPYIntegersAndBytesStayIntegers() throws {
    func npy(_ dtype: NPYArray.DType, _ values: [Int64], shape: [Int]) throws -> NPYArray {
      let bytes: [UInt8] =
        switch dtype {
        case .uint8: values.map { UInt8($0) }
        case .int64: values.flatMap { v in withUnsafeBytes(of: v.littleEndian) { Array($0) } }
        default: []
        }
      return try NPYArray(shape: shape, dtype: dtype, littleEndianData: bytes)
    }
    let pixels = try npy(.uint8, [0, 255, 3, 4], shape: [2, 2])
    let p = try pixels.samples(dividingBy: 255)
    XCTAssertEqual(p.dtype, .uint8)
    pixels.data.withUnsafeBytes { XCTAssertEqual(address(p), UnsafeRawPointer($0.baseAddress), "no copy of the bytes") }
    XCTAssertEqual(p.floats(), [0, 1, Float(3) / 255, Float(4) / 255])

    let tokens = try npy(.int64, [1, 16_777_217, -2, 9], shape: [2, 2]).samples()
    XCTAssertEqual(tokens.storage, .int32([1, 16_777_217, -2, 9]))
    let huge = try npy(.int64, [1, 1 << 40], shape: [2]).samples()
    XCTAssertEqual(huge.dtype, .float32, "integers beyond Int32 become floats, as astype(float32)")
    XCTAssertEqual(huge.floats(), [1, Float(1 << 40)])
    let divided = try npy(.int64, [10, 20], shape: [2]).samples(dividingBy: 10)
    XCTAssertEqual(divided.storage, .float32([1, 2]))
  }

  func testIDXImagesStayBytes() throws {
    var file: [UInt8] = [0, 0, 0x08, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2]
    file += [10, 20, 30, 40]
    let idx = try IDXFile(bytes: file, source: "t")
    let s = try idx.samples(dividingBy: 255)
    XCTAssertEqual(s.shape, [2, 1, 2])
    XCTAssertEqual(s.storage, .uint8([10, 20, 30, 40], divisor: 255))
    XCTAssertEqual(s.floats(), try idx.floats(dividingBy: 255))
    var labels: [UInt8] = [0, 0, 0x0C, 1, 0, 0, 0, 2]
    labels += [0, 0, 0, 7, 0xFF, 0xFF, 0xFF, 0xFE]
    XCTAssertEqual(try IDXFile(bytes: labels, source: "l").samples().storage, .int32([7, -2]))
    XCTAssertEqual(try IDXFile(bytes: labels, source: "l").samples(dividingBy: 2).storage, .float32([3.5, -1]))
  }

  func testContentHashSeesTheElementType() throws {
    func hash(_ s: SampleArray) -> UInt64 {
      var h = ContentHasher()
      h.add(s)
      return h.value
    }
    let t = try Tensor(shape: [2, 2], scalars: [0, 1, 2, 3])
    var viaTensor = ContentHasher()
    viaTensor.add(t)
    XCTAssertEqual(hash(SampleArray(t)), viaTensor.value, "float32 samples hash as their tensor")
    let bytes = try SampleArray(shape: [2, 2], uint8: [0, 1, 2, 3])
    XCTAssertNotEqual(hash(bytes), hash(SampleArray(t)))
    XCTAssertNotEqual(hash(bytes), hash(try SampleArray(shape: [2, 2], uint8: [0, 1, 2, 3], divisor: 255)))
    XCTAssertEqual(hash(try bytes.rows(0..<2)), hash(bytes.compacted()))
  }
}
