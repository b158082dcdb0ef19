import DLPTensor
import XCTest

@testable import DLPData

final class ContentHashTests: XCTestCase {
  func testXXH64MatchesReferenceVectors() throws {
    XCTAssertEqual(XXH64.hash([]), 0xEF46_DB37_51D8_E999)
    guard let vectors = TestFiles.expected["xxh64"] as? [[String: Any]] else {
      throw XCTSkip("libxxhash was not available when the fixtures were made; skipping")
    }
    let data = (0..<200).map { UInt8(($0 * 7 + 3) % 256) }
    for v in vectors {
      let length = (v["length"] as! NSNumber).intValue
      let seed = (v["seed"] as! NSNumber).uint64Value
      XCTAssertEqual(
        XXH64.hash(Array(data[..<length]), seed: seed), UInt64(v["hash"] as! String)!,
        "length \(length)")
    }
  }

  func testHasherSeesShapeOrderAndAbsence() throws {
    func hash(_ parts: [Tensor?]) -> UInt64 {
      var h = ContentHasher()
      for p in parts { if let p { h.add(p) } else { h.addAbsent() } }
      return h.value
    }
    let a = Tensor([1, 2, 3, 4])
    let b = try a.reshaped(to: [2, 2])
    XCTAssertEqual(hash([a]), hash([Tensor([1, 2, 3, 4])]))
    XCTAssertNotEqual(hash([a]), hash([b]))
    XCTAssertNotEqual(hash([a, b]), hash([b, a]))
    XCTAssertNotEqual(hash([a, nil]), hash([a]))
  }
}
