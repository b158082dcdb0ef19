import DLP
import XCTest

/// The executables run OpenBLAS's widest kernels for this CPU (BLASKernelChoice), and say
/// which in the report; DLP_BLAS_CORETYPE=keep leaves the loaded ones.
final class BLASKernelTests: XCTestCase {
  func testReportNamesTheKernelsTheProcessChose() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 200)
    let loaded = BLASKernelChoice.coreName
    let expected = BLASKernelChoice.preferredCoreType(environment: [:], coreName: loaded) ?? loaded
    for (env, core) in [([String: String](), expected), (["DLP_BLAS_CORETYPE": "keep"], loaded)] {
      let report = "\(dir)/r.json"
      let r = try Harness.run(
        "dlp",
        [
          "train", "--dataset", job.csv, "--model", job.model, "--epochs", "1", "--quiet",
          "--report", report,
        ], environment: env)
      XCTAssertEqual(r.status, 0, r.stderr)
      let json = try Harness.report(report)
      XCTAssertEqual(json["blas_core"]?.string?.lowercased(), core.lowercased(), "with \(env)")
    }
  }
}
