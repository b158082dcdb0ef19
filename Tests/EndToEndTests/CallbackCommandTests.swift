import DLP
import Foundation
import XCTest

/// The callbacks, Keras files and TensorBoard events through the real `dlp` binary.
final class CallbackCommandTests: XCTestCase {
  func history(_ report: JSONValue, _ key: String) -> [Double] {
    report["history"]?[key]?.array?.compactMap(\.double) ?? []
  }

  /// The epoch of the lowest value (the first, as Keras keeps the first of equal values).
  func bestEpoch(_ values: [Double]) -> Int {
    values.indices.min { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }!
  }

  func testEarlyStoppingStopsPatienceEpochsAfterTheBestValLoss() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 400)
    let patience = 3
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", job.csv, "--model", job.model, "--epochs", "300", "--batch-size", "32", "--seed", "3",
        "--learning-rate", "0.05", "--validation-split", "0.25", "--early-stopping", String(patience),
        "--restore-best-weights", "--checkpoint", "\(dir)/best.npz", "--save-best-only", "--save-weights",
        "\(dir)/final.npz",
        "--quiet", "--report", "\(dir)/r.json",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let report = try Harness.report("\(dir)/r.json")
    let valLoss = history(report, "val_loss")
    XCTAssertLessThan(valLoss.count, 300, "training should have stopped early")
    XCTAssertEqual(valLoss.count, bestEpoch(valLoss) + patience + 1, "val_loss \(valLoss)")
    // restore_best_weights left the best epoch's weights, which save_best_only saved last.
    XCTAssertEqual(try Harness.maxRelativeDifference("\(dir)/best.npz", "\(dir)/final.npz"), 0)
  }

  func testEarlyStoppingOnBostonHousing() throws {
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("../shared/data/boston_housing.npz").standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: data) else {
      throw XCTSkip("\(data) is absent (the shared Keras data lives next to the checkout); skipping the Boston run")
    }
    let dir = Harness.folder()
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", data, "--preset", "boston-mlp", "--epochs", "500", "--batch-size", "16",
        "--validation-split", "0.2", "--early-stopping", "10", "--quiet", "--report", "\(dir)/r.json",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let valLoss = history(try Harness.report("\(dir)/r.json"), "val_loss")
    XCTAssertLessThan(valLoss.count, 500)
    XCTAssertEqual(valLoss.count, bestEpoch(valLoss) + 10 + 1)
  }

  /// The event files decode (CRCs checked, protobuf-c) into the report's history, and so do the
  /// CSV rows; ReduceLROnPlateau's learning_rate is in all three.
  func testTensorBoardEventsAndCSVLogEqualTheReport() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 300)
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", job.csv, "--model", job.model, "--epochs", "6", "--batch-size", "32",
        "--validation-split", "0.2", "--reduce-lr-on-plateau", "1", "--factor", "0.5", "--min-delta", "10",
        "--tensorboard", "\(dir)/tb",
        "--csv-log", "\(dir)/log.csv", "--quiet", "--report", "\(dir)/r.json",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let report = try Harness.report("\(dir)/r.json")
    let keys = (report["history"]?.object ?? [:]).keys.sorted()
    XCTAssertEqual(keys, ["accuracy", "learning_rate", "loss", "val_accuracy", "val_loss"])

    for run in ["train", "validation"] {
      let files = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/tb/\(run)")
      XCTAssertEqual(files.count, 1, run)
      let file = try XCTUnwrap(files.first)
      XCTAssertTrue(file.hasPrefix("events.out.tfevents.") && file.hasSuffix(".v2"), file)
      let bytes = try FileIO.readBytes(URL(fileURLWithPath: "\(dir)/tb/\(run)/\(file)"))
      let events = try TFRecord.records(bytes, source: file).map(EventMessages.decode)
      XCTAssertEqual(events.first?.fileVersion, "brain.Event:2")
      var series: [String: [(Int64, Float)]] = [:]
      for e in events.dropFirst() {
        for v in e.values { series[v.tag, default: []].append((e.step, v.float ?? .nan)) }
      }
      for key in keys where key.hasPrefix("val_") == (run == "validation") {
        let tag = "epoch_" + (run == "validation" ? String(key.dropFirst(4)) : key)
        let values = try XCTUnwrap(series[tag], "\(run): no \(tag) in \(series.keys.sorted())")
        XCTAssertEqual(values.map(\.0), Array(0..<6), tag)
        var want = history(report, key).map(Float.init)
        var got = values.map(\.1)
        if key == "learning_rate" {
          // TensorBoard reads the optimizer after ReduceLROnPlateau's change, as Keras's does:
          // the rate of the next epoch.
          want = Array(want.dropFirst())
          got = Array(got.dropLast())
        }
        XCTAssertEqual(got, want, tag)
      }
      if run == "train" { XCTAssertNotNil(series["keras"], "the model config for the graph") }
      if run == "validation" { XCTAssertEqual(series["evaluation_loss_vs_iterations"]?.count, 6) }
    }
    XCTAssertTrue(Set(history(report, "learning_rate")).count > 1, "the rate should have been reduced")

    let csv = try String(contentsOfFile: "\(dir)/log.csv", encoding: .utf8)
    let rows = csv.components(separatedBy: "\r\n").filter { !$0.isEmpty }.map { $0.components(separatedBy: ",") }
    XCTAssertEqual(rows.first, ["epoch"] + keys)
    XCTAssertEqual(rows.count, 7)
    for (i, row) in rows.dropFirst().enumerated() {
      XCTAssertEqual(row[0], String(i))
      for (k, key) in keys.enumerated() {
        XCTAssertEqual(Double(row[k + 1]), history(report, key)[i], "\(key) row \(i)")
      }
    }
  }

  /// --save-model writes a .keras that predicts what the trained model does; --save-weights
  /// .weights.h5 and .npz hold the same weights; checkpoint paths take Keras's fields.
  func testKerasFilesFromTheCommandLine() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 200)
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", job.csv, "--model", job.model, "--epochs", "3", "--batch-size", "32",
        "--validation-split", "0.2", "--save-model", "\(dir)/m.keras", "--save-weights", "\(dir)/w.weights.h5",
        "--checkpoint", "\(dir)/ck/e{epoch:02d}-{val_loss:.3f}.weights.h5", "--quiet", "--report", "\(dir)/r.json",
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    let valLoss = history(try Harness.report("\(dir)/r.json"), "val_loss")
    let checkpoints = try FileManager.default.contentsOfDirectory(atPath: "\(dir)/ck").sorted()
    XCTAssertEqual(
      checkpoints, valLoss.enumerated().map { String(format: "e%02d-%.3f.weights.h5", $0.offset + 1, $0.element) })

    var x = NPZWriter()
    try x.add("x", Tensor(shape: [3, 6], scalars: (0..<18).map { Float($0) / 9 - 1 }))
    try x.write(to: URL(fileURLWithPath: "\(dir)/x.npz"))
    var outputs: [[Float]] = []
    for args in [["--model", "\(dir)/m.keras"], ["--model", job.model, "--load-weights", "\(dir)/w.weights.h5"]] {
      let p = try Harness.run("dlp", ["predict"] + args + ["--input", "\(dir)/x.npz", "--output", "\(dir)/y.npz"])
      XCTAssertEqual(p.status, 0, p.stderr)
      outputs.append(try WeightsFile.read("\(dir)/y.npz")["y"]!.scalars)
    }
    XCTAssertEqual(outputs[0], outputs[1])
    // A JSON model without weights is refused with a clear message.
    let bad = try Harness.run(
      "dlp", ["predict", "--model", job.model, "--input", "\(dir)/x.npz", "--output", "\(dir)/z.npz"])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("--load-weights"), bad.stderr)
  }

  /// On workers the callbacks get the weights from them (EarlyStopping's best, checkpoints)
  /// and send the restored ones back: the run matches the in-process one.
  func testCallbacksOnWorkersMatchInProcess() throws {
    let dir = Harness.folder()
    let job = try Harness.makeJob(in: dir, rows: 400)
    func train(_ tag: String, _ extra: [String]) throws -> JSONValue {
      let r = try Harness.run(
        "dlp",
        [
          "train", "--dataset", job.csv, "--model", job.model, "--epochs", "60", "--batch-size", "32", "--seed", "3",
          "--learning-rate", "0.05", "--validation-split", "0.25", "--early-stopping", "2", "--restore-best-weights",
          "--checkpoint", "\(dir)/\(tag)-best.keras", "--save-best-only", "--save-weights", "\(dir)/\(tag).npz",
          "--quiet",
          "--report", "\(dir)/\(tag).json",
        ] + extra)
      XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
      return try Harness.report("\(dir)/\(tag).json")
    }
    let local = try train("local", [])
    let ring = try train("ring", ["--workers", "2"])
    XCTAssertEqual(history(ring, "val_loss").count, history(local, "val_loss").count)
    XCTAssertLessThan(try Harness.maxRelativeDifference("\(dir)/local.npz", "\(dir)/ring.npz"), 1e-3)
    // The checkpoint holds the restored (best) weights, taken from the workers.
    let (best, _, _) = try KerasArchive.read(path: "\(dir)/ring-best.keras")
    let final = try WeightsFile.read("\(dir)/ring.npz")
    for (name, value) in best.namedWeights() { XCTAssertEqual(value.scalars, final[name]?.scalars, name) }

    // ReduceLROnPlateau: the coordinator's rate reaches the workers with every step command.
    let ringLR = try train("ring-lr", ["--workers", "2", "--reduce-lr-on-plateau", "1"])
    let central = try train("central", ["--workers", "2", "--allreduce", "central", "--reduce-lr-on-plateau", "1"])
    let localLR = try train("local-lr", ["--reduce-lr-on-plateau", "1"])
    XCTAssertEqual(history(central, "learning_rate"), history(localLR, "learning_rate"))
    XCTAssertEqual(history(ringLR, "learning_rate"), history(localLR, "learning_rate"))
    XCTAssertLessThan(try Harness.maxRelativeDifference("\(dir)/local-lr.npz", "\(dir)/ring-lr.npz"), 1e-3)
  }
}
