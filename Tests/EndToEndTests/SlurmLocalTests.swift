import Foundation
import XCTest

/// `deploy/slurm/dlp.sbatch`, unchanged, on a real Slurm cluster: `scripts/slurm-local` brings one
/// up on this host (munged, slurmctld, three slurmd with fake node names whose NodeAddr is this
/// host's address), runs `sbatch --wait --ntasks=2 --cpus-per-task=1 --overcommit` of the script
/// with a small job, checks that the report names 2 workers, and tears it all down, checking that
/// nothing it started is left. Skipped, with the script's reason, where it cannot run (not root,
/// Slurm neither installed nor installable, daemons that cannot start in this sandbox).
final class SlurmLocalTests: XCTestCase {
  func testTheSbatchScriptRunsOnALocalSlurmCluster() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .deletingLastPathComponent()
    let script = root.appendingPathComponent("scripts/slurm-local").path
    let binDir = URL(fileURLWithPath: try Harness.binary("dlp-worker")).deletingLastPathComponent()
      .path
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir)
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/bin/bash")
    p.arguments = [
      script, "--job-flags",
      "--dataset \(job.csv) --model \(job.model) --epochs 2 --batch-size 64 --seed 5 --quiet",
    ]
    p.environment = ProcessInfo.processInfo.environment.merging([
      "DLP_BIN_DIR": binDir, "DLP_SLURM_TIMEOUT": "180",
    ]) { $1 }
    let pipe = Pipe()
    p.standardOutput = pipe
    p.standardError = pipe
    p.standardInput = FileHandle.nullDevice
    try p.run()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    p.waitUntilExit()
    if p.terminationStatus == 77 {
      let why =
        output.split(separator: "\n").first { $0.contains("SKIPPED") }
        ?? "scripts/slurm-local skipped"
      throw XCTSkip(String(why))
    }
    XCTAssertEqual(p.terminationStatus, 0, output)
    XCTAssertTrue(output.contains("PASSED"), output)
    XCTAssertTrue(output.contains("2 workers"), output)
  }
}
