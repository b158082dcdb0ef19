import DLP
import Foundation
import XCTest

/// The sequence models through the `dlp` command line, against Keras's own numbers
/// (Tests/Fixtures/keras-sequences): `dlp predict` gives Keras's outputs from Keras's weights,
/// `dlp train --load-weights --no-shuffle` ends where Keras's fit ended, `dlp summary` shows
/// Keras's parameter counts for the sequence presets, and a CSV trains as the book's
/// temperature windows with the naive baseline beside the model.
final class SequenceCommandTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/keras-sequences")

  func fixture(_ name: String) -> String { Self.fixtures.appendingPathComponent(name).path }

  func testPredictGivesKerasOutputs() throws {
    let dir = Harness.folder()
    for name in [
      "seq_stacked_lstm_masked", "seq_bidirectional_gru", "seq_conv1d", "seq_return_state",
    ] {
      let out = "\(dir)/\(name).npz"
      let r = try Harness.run(
        "dlp",
        [
          "predict", "--model", fixture(name + ".json"), "--load-weights",
          fixture(name + ".weights.npz"), "--input",
          fixture(name + ".io.npz"), "--output", out,
        ])
      XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
      let got = try XCTUnwrap(try WeightsFile.read(out)["y"], name)
      let want = try XCTUnwrap(try WeightsFile.read(fixture(name + ".io.npz"))["y"], name)
      XCTAssertEqual(got.shape, want.shape, name)
      let worst = zip(got.scalars, want.scalars).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
      XCTAssertLessThan(worst, 1e-4, "\(name): dlp predict differs from Keras by \(worst)")
    }
  }

  func testTrainFromKerasWeightsEndsWhereKerasFitEnds() throws {
    let dir = Harness.folder()
    for name in ["fit_stacked_lstm", "fit_bidirectional_gru", "fit_lstm_dropout"] {
      let expected = try JSONValue.parse(
        Data(contentsOf: URL(fileURLWithPath: fixture(name + ".expected.json"))))
      let weights = "\(dir)/\(name).npz"
      let r = try Harness.run(
        "dlp",
        [
          "train", "--model", fixture(name + ".json"), "--load-weights",
          fixture(name + ".weights.npz"), "--dataset",
          fixture(name + ".data.npz"), "--no-shuffle", "--epochs", String(expected["epochs"]!.int!),
          "--batch-size",
          String(expected["batch_size"]!.int!), "--seed", String(expected["seed"]!.int!), "--quiet",
          "--save-weights", weights,
        ])
      XCTAssertEqual(r.status, 0, "\(name): \(r.stderr)")
      let mine = try WeightsFile.read(weights)
      let keras = try WeightsFile.read(fixture(name + ".fit.npz"))
      XCTAssertEqual(Set(mine.keys), Set(keras.keys), name)
      var worst: Float = 0
      for (k, t) in keras {
        for (a, b) in zip(mine[k]?.scalars ?? [], t.scalars) {
          worst = max(worst, abs(a - b) / max(abs(b), 1e-2))
        }
      }
      XCTAssertLessThan(worst, 1e-4, "\(name): dlp train ends \(worst) (relative) from Keras's fit")
    }
  }

  func testSummaryShowsKerasParameterCounts() throws {
    let counts = try JSONValue.parse(
      Data(contentsOf: URL(fileURLWithPath: fixture("presets.json"))))["count_params"]!
    for (preset, count) in try XCTUnwrap(counts.object) {
      let r = try Harness.run("dlp", ["summary", "--preset", preset])
      XCTAssertEqual(r.status, 0, r.stderr)
      let grouped = String(count.int!).reversed().enumerated()
        .map { i, c in i > 0 && i % 3 == 0 ? "\(c)," : "\(c)" }.reversed().joined()
      XCTAssertTrue(
        r.stdout.contains("Total params: \(grouped) "),
        "\(preset): Keras counts \(grouped)\n\(r.stdout)")
    }
  }

  func testTimeseriesCSVTrainsBesideTheNaiveBaseline() throws {
    let dir = Harness.folder()
    let expected = try JSONValue.parse(
      Data(contentsOf: URL(fileURLWithPath: fixture("timeseries.expected.json"))))
    let model = try Sequential([
      InputLayer(shape: [12, 4]), GRU(4, recurrentDropout: 0.25), Dense(1),
    ])
    try model.compile(optimizer: "rmsprop", loss: "mse", metrics: ["mae"])
    let path = "\(dir)/gru.json"
    try model.toJSON().write(toFile: path, atomically: true, encoding: .utf8)
    let report = "\(dir)/report.json"
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", fixture("timeseries.csv"), "--timeseries-target", "T (degC)",
        "--sequence-length", "12",
        "--sampling-rate", "2", "--sequence-stride", "3", "--model", path, "--epochs", "2",
        "--batch-size", "16",
        "--report", report,
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertTrue(r.stdout.contains("naive baseline"), r.stdout)
    let json = try Harness.report(report)
    // The book's validation windows were held out (68), and the baseline is the fixture's.
    XCTAssertEqual(json["history"]?["val_mae"]?.array?.count, 2)
    XCTAssertNotNil(json["evaluation"]?["mae"]?.double)
    for (key, split) in [("val_mae", "val"), ("test_mae", "test")] {
      XCTAssertEqual(
        json["baseline"]?[key]?.double ?? -1, expected["baseline_mae"]![split]!.double!,
        accuracy: 1e-5, key)
    }
    // A flag that makes no window fit is refused with a message, not a trap.
    let bad = try Harness.run(
      "dlp",
      [
        "train", "--dataset", fixture("timeseries.csv"), "--timeseries-target", "T (degC)",
        "--sequence-length", "400",
        "--model", path, "--epochs", "1",
      ])
    XCTAssertNotEqual(bad.status, 0)
    XCTAssertTrue(bad.stderr.contains("window"), bad.stderr)
    let missing = try Harness.run(
      "dlp",
      [
        "train", "--dataset", fixture("timeseries.csv"), "--timeseries-target", "nope", "--model",
        path,
      ])
    XCTAssertNotEqual(missing.status, 0)
    XCTAssertTrue(missing.stderr.contains("no target column 'nope'"), missing.stderr)
  }

  /// The real IMDB reviews as padded ids into the imdb-lstm preset (skipped with a message when
  /// Keras's imdb.npz is not in ../shared/data).
  func testIMDBAsPaddedSequences() throws {
    // Tests/EndToEndTests/ -> package root -> ../shared/data
    let data = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("../shared/data/imdb.npz")
      .standardizedFileURL.path
    guard FileManager.default.fileExists(atPath: data) else {
      throw XCTSkip("no Keras imdb.npz at \(data); skipping the real-IMDB sequence run")
    }
    let report = Harness.folder() + "/imdb.json"
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", data, "--preset", "imdb-lstm", "--sequence-length", "40", "--samples",
        "256",
        "--epochs", "1", "--quiet", "--report", report,
      ])
    XCTAssertEqual(r.status, 0, r.stderr)
    XCTAssertNotNil(try Harness.report(report)["evaluation"]?["accuracy"]?.double)
  }
}
