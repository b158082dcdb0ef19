import Foundation
import XCTest

@testable import DLP

/// Sequence models written and trained by real Keras 3 (Tests/Fixtures/keras-sequences, made by
/// scripts/peers/make_sequence_fixtures.py):
/// - `model` fixtures load with Keras's parameter counts and give Keras's outputs and evaluation
///   from Keras's weights (the checks of `KerasFixtureTests`);
/// - `fit` fixtures, trained by DLP from Keras's initial weights without shuffling, end at the
///   weights Keras's `fit` ended at, with Keras's per-epoch losses.
final class SequenceFixtureTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent()
    .appendingPathComponent("Fixtures/keras-sequences")

  func fixtures(kind: String) throws -> [KerasFixtureTests.Fixture] {
    let manifestURL = Self.folder.appendingPathComponent("manifest.json")
    guard let data = FileManager.default.contents(atPath: manifestURL.path) else {
      throw XCTSkip(
        "no fixtures at \(Self.folder.path) (scripts/peers/make_sequence_fixtures.py makes them)")
    }
    let manifest = try JSONValue.parse(data, source: manifestURL.path)
    return try (manifest["fixtures"]?.array ?? []).compactMap { entry in
      guard let name = entry["name"]?.string, entry["kind"]?.string == kind else { return nil }
      let path = Self.folder.appendingPathComponent(name + ".expected.json").path
      let text = try XCTUnwrap(FileManager.default.contents(atPath: path), "missing \(path)")
      return KerasFixtureTests.Fixture(
        name: name, expected: try JSONValue.parse(text, source: path), folder: Self.folder)
    }
  }

  func testModelsGiveKerasOutputs() throws {
    let all = try fixtures(kind: "model")
    XCTAssertGreaterThanOrEqual(all.count, 6)
    for f in all { XCTAssertNoThrow(try KerasFixtureTests.check(f), f.name) }
  }

  /// DLP's `toJSON` of each Keras model reads back as the same model (Keras's config keys,
  /// Bidirectional's inner layers, references to a layer's state outputs).
  func testModelsRoundTripThroughDLPJSON() throws {
    for f in try fixtures(kind: "model") {
      let (model, _) = try KerasModelReader.read(path: f.path(".json"))
      try WeightsFile.load(model, from: f.path(".weights.npz"))
      let (again, _) = try KerasModelReader.read(JSONValue.parse(Data(model.toJSON().utf8)))
      XCTAssertEqual(again.parameterCount, model.parameterCount, f.name)
      XCTAssertEqual(again.layers.map(\.className), model.layers.map(\.className), f.name)
      XCTAssertEqual(again.toJSON(), model.toJSON(), f.name)
      try again.loadNamedWeights(
        Dictionary(uniqueKeysWithValues: model.namedWeights()), source: f.name)
      let x = try NPZArchive(contentsOf: URL(fileURLWithPath: f.path(".io.npz"))).array("x")
        .samples()
      let input = try ArrayData(inputs: [x.reshaped(to: [x.rows] + model.inputs[0].shape)])
      XCTAssertEqual(try again.predict(input)[0], try model.predict(input)[0], f.name)
    }
  }

  /// The book's temperature windows: DLP's CSV reader gives the windows and targets
  /// keras.utils.timeseries_dataset_from_array gave for the book's processing (normalised
  /// features, raw targets, start/end indices of a 50/25/25 split), the validation windows held
  /// out exactly, and the naive baseline's MAE.
  func testTimeseriesWindowsAreKerass() throws {
    let expected = try JSONValue.parse(
      Data(contentsOf: Self.folder.appendingPathComponent("timeseries.expected.json")))
    let windows = try WeightsFile.read(
      Self.folder.appendingPathComponent("timeseries.windows.npz").path)
    var options = TimeseriesOptions(
      target: "T (degC)", sequenceLength: 12, samplingRate: 2, sequenceStride: 3)
    XCTAssertEqual(options.resolvedDelay, expected["delay"]?.int)
    options.trainFraction = 0.5
    let splits = try DatasetCatalog.load(
      Self.folder.appendingPathComponent("timeseries.csv").path,
      options: DatasetOptions(timeseries: options))
    func close(_ got: SampleArray, _ want: Tensor?, _ what: String) throws {
      let want = try XCTUnwrap(want, what)
      XCTAssertEqual(got.shape, want.shape, what)
      let worst = zip(got.floats(), want.scalars).map { abs($0 - $1) }.max() ?? 0
      XCTAssertLessThan(worst, 2e-6, "\(what) differs from Keras's by \(worst)")
    }
    let (nTrain, nValidation) = (windows["train_x"]!.shape[0], windows["val_x"]!.shape[0])
    try close(try splits.train.x.rows(0..<nTrain), windows["train_x"], "train windows")
    try close(try splits.train.y.rows(0..<nTrain), windows["train_y"], "train targets")
    try close(
      try splits.train.x.rows(nTrain..<(nTrain + nValidation)), windows["val_x"],
      "validation windows")
    try close(
      try splits.train.y.rows(nTrain..<(nTrain + nValidation)), windows["val_y"],
      "validation targets")
    try close(try XCTUnwrap(splits.test).x, windows["test_x"], "test windows")
    try close(try XCTUnwrap(splits.test).y, windows["test_y"], "test targets")
    // The hold-out split lands exactly on the validation windows.
    let split = try XCTUnwrap(splits.validationSplit)
    XCTAssertEqual(Int(Double(nTrain + nValidation) * (1 - split)), nTrain)
    XCTAssertEqual(
      splits.baselines["val_mae"]!, expected["baseline_mae"]!["val"]!.double!, accuracy: 1e-5)
    XCTAssertEqual(
      splits.baselines["test_mae"]!, expected["baseline_mae"]!["test"]!.double!, accuracy: 1e-5)
  }

  /// `seed: 7` starts a sequence model from the weights Keras 3 on JAX gives it after
  /// keras.utils.set_random_seed(7): the uniform initialisers bit for bit (which needs every
  /// layer's default seeds drawn in Keras's order); the orthogonal recurrent kernels, drawn
  /// from DLP's normal stream, are orthogonal.
  func testInitialWeightsFollowKerassSeeds() throws {
    let keras = try WeightsFile.read(Self.folder.appendingPathComponent("init_seed7.npz").path)
    let model = try Sequential(
      [
        // Keras's default names (other tests have used DLP's counters).
        InputLayer(shape: [6], dtype: .int32), Embedding(50, 4, maskZero: true, name: "embedding"),
        Bidirectional(LSTM(3, returnSequences: true, name: "lstm"), name: "bidirectional"),
        SimpleRNN(2, returnSequences: true, name: "simple_rnn"),
        Conv1D(3, kernelSize: 2, name: "conv1d"),
        GRU(2, name: "gru"), Dropout(0.3, name: "dropout"), Dense(1, name: "dense"),
      ], seed: 7)
    XCTAssertEqual(Set(model.namedWeights().map(\.name)), Set(keras.keys))
    for (name, value) in model.namedWeights() {
      let want = try XCTUnwrap(keras[name], name)
      XCTAssertEqual(value.shape, want.shape, name)
      if name.hasSuffix("recurrent_kernel") {
        // Q^T Q = I for the (units, gates * units) kernel's rows: QR of a normal matrix.
        let (rows, cols) = (value.shape[0], value.shape[1])
        for i in 0..<rows {
          for j in 0..<rows {
            var dot: Float = 0
            for k in 0..<cols { dot += value.scalars[i * cols + k] * value.scalars[j * cols + k] }
            XCTAssertEqual(dot, i == j ? 1 : 0, accuracy: 1e-5, "\(name) rows \(i), \(j)")
          }
        }
      } else {
        XCTAssertEqual(value.scalars, want.scalars, "\(name) is not Keras's initial value")
      }
    }
  }

  func testFitEndsWhereKerasFitEnds() throws {
    let all = try fixtures(kind: "fit")
    XCTAssertGreaterThanOrEqual(all.count, 5)
    for f in all {
      // Keras fitted the model model_from_json rebuilt after set_random_seed(seed): the same
      // default seeds for its seed generators.
      let seed = UInt64(try XCTUnwrap(f.expected["seed"]?.int, f.name))
      let (model, compile) = try KerasModelReader.read(path: f.path(".json"), seed: seed)
      let c = try XCTUnwrap(compile, f.name)
      try model.compile(
        optimizer: KerasObjects.parseOptimizer(c.optimizer), losses: c.losses, metricSpecs: c.metrics,
        lossWeights: c.lossWeights)
      try WeightsFile.load(model, from: f.path(".weights.npz"))
      let data = try NPZArchive(contentsOf: URL(fileURLWithPath: f.path(".data.npz")))
      let x = try data.array("x_train").samples()
      let y = try data.array("y_train").samples()
      let head = model.compiled!.heads[0]
      let train = try ArrayData(
        x: x.reshaped(to: [x.rows] + model.inputs[0].shape),
        y: y.reshaped(to: [y.rows, head.targetWidth]))
      let epochs = try XCTUnwrap(f.expected["epochs"]?.int)
      let history = try model.fit(
        train,
        options: FitOptions(
          epochs: epochs, batchSize: try XCTUnwrap(f.expected["batch_size"]?.int), shuffle: false))
      // Keras's per-epoch mean loss.
      let kerasLoss = f.expected["history"]?["loss"]?.array?.compactMap(\.double) ?? []
      XCTAssertEqual(kerasLoss.count, epochs, f.name)
      for (e, (mine, theirs)) in zip(history.history["loss"] ?? [], kerasLoss).enumerated() {
        XCTAssertEqual(
          mine, theirs, accuracy: 1e-4 * max(1, abs(theirs)), "\(f.name): loss of epoch \(e + 1)")
      }
      let final = try WeightsFile.read(f.path(".fit.npz"))
      var worst = (0.0, "")
      for (name, value) in model.namedWeights() {
        let want = try XCTUnwrap(final[name], "\(f.name): no \(name) in the fit weights")
        XCTAssertEqual(value.shape, want.shape, "\(f.name): \(name)")
        for (a, b) in zip(value.scalars, want.scalars) {
          let relative = Double(abs(a - b)) / max(1e-2, Double(abs(b)))
          if relative > worst.0 { worst = (relative, "\(name): DLP \(a), Keras \(b)") }
        }
      }
      XCTAssertLessThan(
        worst.0, 1e-4, "\(f.name): weights after fit differ from Keras's; worst \(worst.1)")
      print("SequenceFixtureTests: \(f.name) ends within \(worst.0) (relative) of Keras's fit")
    }
  }
}
