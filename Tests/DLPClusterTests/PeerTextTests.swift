import DLPTransport
import XCTest

@testable import DLPCluster

/// What a peer chose to call itself cannot forge a log line or hide what one says.
final class PeerTextTests: XCTestCase {
  func testControlAndFormatCharactersAreEscapedAndLongTextIsCut() {
    XCTAssertEqual(PeerText.loggable("w-1"), "w-1")
    XCTAssertEqual(PeerText.loggable("漢é🙂 ok"), "漢é🙂 ok")
    let forged = "x\n2026-12-05T00:00:00+0000 info dlp.coordinator: worker 0 (admin) joined"
    XCTAssertFalse(PeerText.loggable(forged).contains("\n"))
    XCTAssertTrue(PeerText.loggable(forged).hasPrefix("x\\n2026"))
    XCTAssertEqual(PeerText.loggable("a\u{202E}b\t\u{0}"), "a\\u{202E}b\\t\\0")
    XCTAssertEqual(
      PeerText.loggable(String(repeating: "a", count: 500)),
      String(repeating: "a", count: 128) + "…")
    let m = Member(
      id: 3, routingID: [1], hello: HelloMessage(workerID: "evil\nline", hostname: "h\r", pid: 9),
      key: nil)
    XCTAssertEqual(m.name, "worker 3 (evil\\nline, pid 9 on h\\r)")
  }
}
