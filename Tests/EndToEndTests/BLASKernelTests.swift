import DLP
import XCTest

/// The executables run OpenBLAS's widest kernels for this CPU (BLASKernelChoice), go past a
/// narrower OPENBLAS_CORETYPE only after the self-test, fall back when it fails, and say which
/// kernels ran and why in the report and in one stderr line.
final class BLASKernelTests: XCTestCase {
  func train(_ env: [String: String], extra: [String] = []) throws -> (report: JSONValue, stderr: String) {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 200)
    let report = "\(dir)/r.json"
    let r = try Harness.run(
      "dlp",
      ["train", "--dataset", job.csv, "--model", job.model, "--epochs", "1", "--quiet", "--report", report] + extra,
      environment: env)
    XCTAssertEqual(r.status, 0, r.stderr)
    return (try Harness.report(report), r.stderr)
  }

  func kernelLines(_ stderr: String) -> [Substring] {
    stderr.split(separator: "\n").filter { $0.contains("OpenBLAS kernels") || $0.contains("sgemm self-test") }
  }

  func testReportNamesTheKernelsTheProcessChose() throws {
    let loaded = BLASKernelChoice.coreName
    let decision = BLASKernelChoice.decide(environment: [:], loaded: loaded, cpu: .current)
    var expected = loaded
    if case .replace(let family, _) = decision { expected = family }
    for (env, core) in [([String: String](), expected), (["DLP_BLAS_CORETYPE": "keep"], loaded)] {
      let (json, _) = try train(env)
      XCTAssertEqual(json["blas_core"]?.string?.lowercased(), core.lowercased(), "with \(env)")
      XCTAssertFalse(json["blas_core_reason"]?.string?.isEmpty ?? true)
    }
  }

  /// The widest family this CPU runs, when it is wider than Prescott (else the tests skip).
  func widerThanPrescott() throws -> String {
    let cpu = CPUFeatures.current
    guard let widest = BLASKernelFamilies.widestTier(cpu), widest > .sse,
      let best = BLASKernelFamilies.preference(cpu).first
    else {
      throw XCTSkip("this CPU runs no kernels wider than Prescott's (\(cpu)); skipping")
    }
    return best
  }

  func testAMachinesPrescottIsReplacedAfterTheSelfTest() throws {
    let best = try widerThanPrescott()
    // Two workers: the coordinator and its children inherit the choice and log nothing more.
    let (json, stderr) = try train(["OPENBLAS_CORETYPE": "Prescott"], extra: ["--workers", "2", "--threads", "1"])
    XCTAssertEqual(json["blas_core"]?.string?.lowercased(), best.lowercased())
    XCTAssertEqual(json["blas_core_replaced"]?.string, "Prescott")
    let reason = json["blas_core_reason"]?.string ?? ""
    XCTAssertTrue(
      reason.contains("OPENBLAS_CORETYPE=Prescott") && reason.contains("passed the sgemm self-test"), reason)
    XCTAssertEqual(kernelLines(stderr).count, 1, stderr)
  }

  func testKernelsThatFailTheSelfTestAreNotUsed() throws {
    _ = try widerThanPrescott()
    for (fault, says) in [("wrong", "failed the sgemm self-test"), ("crash", "crashed in the sgemm self-test")] {
      // With workers: they inherit the fallback (and the fault) and must not try again.
      let workers = fault == "wrong" ? ["--workers", "2", "--threads", "1"] : []
      let (json, stderr) = try train(["OPENBLAS_CORETYPE": "Prescott", "DLP_BLAS_SELF_TEST_FAULT": fault], extra: workers)
      XCTAssertEqual(json["blas_core"]?.string, "Prescott", fault)
      XCTAssertNil(json["blas_core_replaced"], fault)
      let reason = json["blas_core_reason"]?.string ?? ""
      XCTAssertTrue(reason.contains(says) && reason.contains("running Prescott again"), reason)
      XCTAssertEqual(kernelLines(stderr).count, 1, stderr)
    }
  }
}
