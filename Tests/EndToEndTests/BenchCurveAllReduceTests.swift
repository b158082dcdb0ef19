import DLP
import Foundation
import XCTest

extension BenchCommandTests {
  /// `dlp bench allreduce --curve`: every collective's sockets take CURVE (each rank's key
  /// pair, every peer's public key admitted), the sums still verify, and the report and the
  /// line say the run was encrypted, so plain and CURVE figures can be told apart. 1 MiB on 2
  /// ring ranks is a full 512 KiB chunk each, and several of the central collective's 256 KiB
  /// ones (a full chunk once exceeded the frame cap under CURVE).
  func testCurveRunsEveryCollectiveEncrypted() throws {
    let dir = Harness.folder()
    for (workers, collective, transport) in [
      (2, "ring", "tcp"), (3, "ring", "tcp"), (2, "central", "tcp"), (2, "ring", "shm"),
    ] {
      let label = "\(workers) workers, \(collective) over \(transport) with CURVE"
      let report = "\(dir)/\(workers)-\(collective)-\(transport).json"
      let r = try bench([
        "--workers", String(workers), "--bytes", "1MiB", "--iterations", "3", "--warmup", "1",
        "--allreduce", collective,
        "--transport", transport, "--curve", "--report", report,
      ])
      XCTAssertEqual(r.status, 0, "\(label): \(r.stderr)")
      XCTAssertTrue(r.stdout.contains("over \(transport) with CURVE"), "\(label): \(r.stdout)")
      let json = try Harness.report(report)
      XCTAssertEqual(json["curve"]?.bool, true, label)
      XCTAssertEqual(json["verified"]?.bool, true, label)
      assertNoOrphans(r.pid)
    }
    let plain = try bench([
      "--workers", "2", "--bytes", "4KB", "--iterations", "2", "--transport", "tcp", "--report",
      "\(dir)/plain.json",
    ])
    XCTAssertEqual(plain.status, 0, plain.stderr)
    XCTAssertEqual(try Harness.report("\(dir)/plain.json")["curve"]?.bool, false)
  }
}
