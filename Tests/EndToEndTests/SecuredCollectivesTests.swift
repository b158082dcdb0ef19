import DLP
import DLPTransport
import Foundation
import XCTest

/// `dlp train --workers 2` is secured without a flag (every socket CURVE): with a model whose
/// gradient spans several full collective chunks, the central collective and the ring over
/// tcp give in-process training's weights. Full-size chunks used to exceed the sockets' frame
/// cap once CURVE wrapped them, so the secured central collective stalled until its timeout.
final class SecuredCollectivesTests: XCTestCase {
  func testSecuredCollectivesCarryMultiChunkGradients() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 300)
    // 6-600-600-3: 366,603 parameters, 1.47 MB of float32: each of 2 ring shards holds a full
    // chunk and a bit, and the central collective's 256 KiB chunks several times over.
    let m = try Sequential([
      InputLayer(shape: [6]), Dense(600, activation: .relu), Dense(600, activation: .relu),
      Dense(3, activation: .softmax),
    ])
    try m.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    XCTAssertGreaterThan(m.parameters.count * 4 / 2, RingAllReduce.Options.defaultChunkBytes)
    try m.toJSON().write(toFile: dir + "/wide.json", atomically: true, encoding: .utf8)
    let flags = [
      "train", "--dataset", job.csv, "--model", dir + "/wide.json", "--epochs", "1", "--batch-size",
      "32", "--seed", "4", "--quiet",
    ]
    let alone = try Harness.run("dlp", flags + ["--save-weights", dir + "/alone.npz"])
    XCTAssertEqual(alone.status, 0, alone.stderr)
    for (collective, transport, used) in [
      ("central", "auto", "central/tcp"), ("ring", "tcp", "ring/tcp"),
    ] {
      let tag = "\(collective)-\(transport)"
      let r = try Harness.run(
        "dlp",
        flags + [
          "--workers", "2", "--allreduce", collective, "--transport", transport,
          "--collective-timeout", "20",
          "--save-weights", "\(dir)/\(tag).npz", "--report", "\(dir)/\(tag).json",
        ], timeout: 90)
      XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
      XCTAssertFalse(r.stderr.contains("--insecure"), "the job ran without CURVE: \(r.stderr)")
      let report = try Harness.report("\(dir)/\(tag).json")
      XCTAssertEqual(report["allreduce"]?.string, used)
      XCTAssertEqual(
        report["elastic"]?["generations"]?.int, 1, "\(tag): a generation was lost: \(r.stderr)")
      XCTAssertLessThan(
        try Harness.maxRelativeDifference(dir + "/alone.npz", "\(dir)/\(tag).npz"), 1e-5, tag)
    }
  }
}
