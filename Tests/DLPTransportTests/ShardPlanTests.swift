import DLPTransport
import XCTest

final class ShardPlanTests: XCTestCase {
  func testRangesAreContiguousEvenAndCoverEverything() {
    for count in 0..<40 {
      for parts in 1..<9 {
        let plan = ShardPlan(count: count, parts: parts)
        let ranges = plan.ranges
        XCTAssertEqual(ranges.count, parts)
        XCTAssertEqual(ranges.first?.lowerBound, 0)
        XCTAssertEqual(ranges.last?.upperBound, count)
        for k in 1..<parts { XCTAssertEqual(ranges[k - 1].upperBound, ranges[k].lowerBound) }
        let sizes = ranges.map(\.count)
        XCTAssertLessThanOrEqual(sizes.max()! - sizes.min()!, 1)
        // Bigger shards come first.
        XCTAssertEqual(sizes, sizes.sorted(by: >))
        for i in 0..<count { XCTAssertTrue(ranges[plan.part(containing: i)].contains(i)) }
      }
    }
  }

  func testMorePartsThanItemsGivesEmptyShards() {
    let plan = ShardPlan(count: 2, parts: 5)
    XCTAssertEqual(plan.ranges, [0..<1, 1..<2, 2..<2, 2..<2, 2..<2])
  }

  func testBatchOf128OverThreeWorkers() {
    XCTAssertEqual(ShardPlan(count: 128, parts: 3).ranges, [0..<43, 43..<86, 86..<128])
  }
}
