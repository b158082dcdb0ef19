import XCTest

@testable import DLPData
import DLPTensor

final class NumpyRandomStateTests: XCTestCase {
  var expected: [String: Any] { TestFiles.expected["random"] as! [String: Any] }

  /// Values printed by numpy 2.4: `rng = np.random.RandomState(seed); idx = np.arange(n);
  /// rng.shuffle(idx)`.
  func testSmallPermutationsAgainstNumpy() {
    func permutation(_ seed: UInt32, _ n: Int) -> [Int] {
      var rng = NumpyRandomState(seed: seed)
      return rng.shuffledIndices(n)
    }
    XCTAssertEqual(permutation(0, 10), [2, 8, 4, 9, 1, 6, 7, 3, 0, 5])
    XCTAssertEqual(permutation(113, 10), [9, 3, 6, 1, 0, 7, 4, 8, 2, 5])
    XCTAssertEqual(permutation(42, 10), [8, 1, 5, 0, 7, 2, 9, 4, 3, 6])
    XCTAssertEqual(
      Array(permutation(113, 506).prefix(10)), [22, 202, 368, 335, 461, 323, 382, 143, 146, 141])
  }

  func testPermutationsFromFixture() {
    for case let item as [String: Any] in expected["permutations"] as! [Any] {
      let seed = (item["seed"] as! NSNumber).uint32Value
      var rng = NumpyRandomState(seed: seed)
      XCTAssertEqual(
        rng.shuffledIndices((item["n"] as! NSNumber).intValue), ints(item["permutation"]),
        "seed \(seed)")
    }
  }

  func testLargePermutations() {
    for case let item as [String: Any] in expected["big"] as! [Any] {
      let n = (item["n"] as! NSNumber).intValue
      var rng = NumpyRandomState(seed: (item["seed"] as! NSNumber).uint32Value)
      let p = rng.shuffledIndices(n)
      XCTAssertEqual(Array(p.prefix(16)), ints(item["head"]))
      XCTAssertEqual(Array(p.suffix(16)), ints(item["tail"]))
      XCTAssertEqual(
        p.enumerated().reduce(0) { $0 + $1.offset * $1.element },
        (item["weighted_sum"] as! NSNumber).intValue)
    }
  }

  func testConsecutiveShufflesShareTheStream() {
    let lists = intLists(expected["consecutive"])
    var rng = NumpyRandomState(seed: 113)
    XCTAssertEqual(rng.shuffledIndices(25), lists[0])
    XCTAssertEqual(rng.shuffledIndices(17), lists[1])
  }

  func testRandomSampleAndArraySeed() {
    for (seed, values) in expected["samples"] as! [String: Any] {
      var rng = NumpyRandomState(seed: UInt32(seed)!)
      XCTAssertEqual((0..<5).map { _ in rng.nextDouble() }, doubles(values), "seed \(seed)")
    }
    var rng = NumpyRandomState(seedArray: [1, 2, 3])
    XCTAssertEqual((0..<5).map { _ in rng.nextDouble() }, doubles(expected["array_seed_1_2_3"]))
  }

  func testRandomIntervalBounds() {
    var rng = NumpyRandomState(seed: 9)
    XCTAssertEqual(rng.randomInterval(0), 0)
    for max: UInt64 in [1, 2, 5, 1 << 33, UInt64.max] {
      for _ in 0..<200 { XCTAssertLessThanOrEqual(rng.randomInterval(max), max) }
    }
  }
}
