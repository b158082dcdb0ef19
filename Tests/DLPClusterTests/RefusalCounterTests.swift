import XCTest

@testable import DLPCluster

/// The coordinator's refusals: the first ones logged one by one, then one line per thousand.
final class RefusalCounterTests: XCTestCase {
  func testTheFirstRefusalsAreLoggedThenOneInAThousand() {
    var c = RefusalCounter()
    var logged: [Int: String] = [:]
    for k in 1...3500 { if let suffix = c.note() { logged[k] = suffix } }
    XCTAssertEqual(c.count, 3500)
    XCTAssertEqual(Set(logged.keys), Set(Array(1...20) + [1000, 2000, 3000]))
    XCTAssertEqual(logged[1], "")
    XCTAssertTrue(logged[20]?.contains("one line every 1000") == true)
    XCTAssertEqual(logged[2000], " (2000 refusals so far)")
  }
}
