import Foundation
import XCTest

@testable import DLP

/// `.keras` and `.weights.h5` files written by Keras 3 (Tests/Fixtures/keras_files, made by
/// scripts/peers/make_keras_file_fixtures.py): DLP reads them through libhdf5 and predicts what
/// Keras predicted; what DLP writes has Keras's HDF5 layout and reads back the same.
final class KerasFileTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/keras_files")

  static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  static func expected() throws -> JSONValue {
    let p = path("expected.json")
    guard let data = FileManager.default.contents(atPath: p) else { throw DLPError.io("missing fixture \(p)") }
    return try JSONValue.parse(data, source: p)
  }

  /// A `.keras` fixture's model, compiled from its own compile config, optimizer state restored.
  static func load(_ name: String) throws -> Model {
    let (model, cc, contents) = try KerasArchive.read(path: path(name))
    try model.compile(keras: cc)
    try KerasArchive.loadOptimizerState(model, from: contents)
    return model
  }

  func assertClose(_ a: Tensor, _ b: Tensor, _ tolerance: Float, _ what: String, line: UInt = #line) {
    XCTAssertEqual(a.shape, b.shape, what, line: line)
    let worst = zip(a.scalars, b.scalars).map { Swift.abs($0 - $1) }.max() ?? .infinity
    XCTAssertLessThanOrEqual(worst, tolerance, "\(what): max difference \(worst)", line: line)
  }

  func testKerasFilesPredictAsKeras() throws {
    for name in ["mlp", "convnet", "two_branch"] {
      let model = try Self.load(name + ".keras")
      let io = try WeightsFile.read(Self.path(name + ".io.npz"))
      let inputs = model.inputs.count == 1 ? [io["x"]!] : model.inputs.map { io[$0.node.layer.name]! }
      let y = try model.predict(inputs, batchSize: 3)[0]
      assertClose(y, io["y"]!, 1e-5, "\(name).keras predictions")
    }
  }

  func testWeightsH5LoadsLikeTheKerasFile() throws {
    for name in ["mlp", "convnet"] {
      let reference = try Self.load(name + ".keras")
      let (model, cc, _) = try KerasArchive.read(path: Self.path(name + ".keras"), seed: 99)
      try model.compile(keras: cc)
      model.reinitialize(seed: 7)
      XCTAssertNotEqual(model.parameters.snapshot(), reference.parameters.snapshot())
      try WeightsFile.load(model, from: Self.path(name + ".weights.h5"))
      XCTAssertEqual(model.parameters.snapshot(), reference.parameters.snapshot(), name)
    }
  }

  func testLayerPathsFollowKerasLayerOrder() throws {
    let expected = try Self.expected()
    for name in ["mlp", "convnet", "two_branch"] {
      let model = try Self.load(name + ".keras")
      let layout = expected["files"]?[name + ".keras"]?["layout"]?.object ?? [:]
      // Keras's own groups: layers/<path>/vars with the layer's name as attribute.
      var kerasPaths: [String: String] = [:]
      for (key, entry) in layout where key.hasPrefix("layers/") && key.hasSuffix("/vars") {
        kerasPaths[String(key.dropLast("/vars".count))] = entry["attrs"]?["name"]?.string
      }
      let ours = Dictionary(uniqueKeysWithValues: KerasLayerPaths.entries(for: model).map { ($0.path, $0.layer.name) })
      XCTAssertEqual(ours, kerasPaths, name)
    }
    let two = try Self.load("two_branch.keras")
    let order = expected["files"]?["two_branch.keras"]?["layers"]?.array?.compactMap(\.string) ?? []
    XCTAssertEqual(KerasLayerPaths.functionalOrder(two).map(\.name), order)
    XCTAssertEqual(KerasLayerPaths.snakeCase("MaxPooling2D"), "max_pooling2d")
    XCTAssertEqual(KerasLayerPaths.snakeCase("GlobalAveragePooling2D"), "global_average_pooling2d")
    XCTAssertEqual(KerasLayerPaths.snakeCase("InputLayer"), "input_layer")
  }

  /// Every group and dataset of a weights file, as the fixture script records Keras's.
  func layout(_ bytes: [UInt8]) throws -> [String: JSONValue] {
    let file = try HDF5File.read(bytes: bytes, source: "written")
    var items: [String: JSONValue] = [:]
    func walk(_ g: HDF5Group) throws {
      for child in try g.childNames() {
        let key = g.path.isEmpty ? child : g.path + "/" + child
        if try g.memberKind(child) == "group" {
          let sub = try g.group(child)!
          let attrs: JSONValue = sub.stringAttribute("name").map { ["name": .string($0)] } ?? [:]
          items[key] = ["kind": "group", "attrs": attrs]
          try walk(sub)
        } else {
          let (shape, _) = try g.readFloats(child)
          items[key] = [
            "kind": "dataset", "attrs": [:], "shape": .array(shape.map { JSONValue($0) }),
            "dtype": .string(try g.datasetType(child)),
          ]
        }
      }
    }
    try walk(file.root())
    return items
  }

  func testWrittenWeightsHaveKerasLayout() throws {
    let expected = try Self.expected()
    for name in ["mlp", "convnet", "two_branch"] {
      let model = try Self.load(name + ".keras")
      let ours = try layout(KerasWeightsFile.bytes(model))
      var keras = expected["files"]?[name + ".keras"]?["layout"]?.object ?? [:]
      // The optimizer's name is its Keras name here; Keras numbers a second instance ("adam_1").
      keras["optimizer/vars"] = ours["optimizer/vars"]
      keras["vars"] = ours["vars"]
      XCTAssertEqual(Set(ours.keys), Set(keras.keys), name)
      for (key, value) in keras where key != "optimizer/vars" && key != "vars" {
        XCTAssertEqual(ours[key], value, "\(name): \(key)")
      }
    }
  }

  func testOptimizerStateComesBackFromTheKerasFile() throws {
    let expected = try Self.expected()
    let model = try Self.load("mlp.keras")
    let adam = try XCTUnwrap(model.compiled?.optimizer as? Adam)
    XCTAssertEqual(adam.iterations, expected["files"]?["mlp.keras"]?["iterations"]?.int)
    XCTAssertEqual(adam.iterations, 3)
    // The first slot of the first kernel equals Keras's optimizer/vars/2 (its momentum).
    let file = try KerasArchive.contents(path: Self.path("mlp.keras")).weights
    let (shape, momentum) = try file.root().group("optimizer")!.group("vars")!.readFloats("2")
    XCTAssertEqual(shape, [8, 16])
    XCTAssertEqual(adam.slotValues(0, range: 0..<(8 * 16)), momentum)
    XCTAssertTrue(momentum.contains { $0 != 0 })
    // Written and read back: the same iterations, rate and slots.
    let copy = try Self.load("mlp.keras")
    copy.compiled!.optimizer.prepare(shard: 0..<copy.parameters.count)
    let rewritten = try HDF5File.read(bytes: KerasWeightsFile.bytes(model), source: "rewritten")
    try KerasWeightsFile.load(copy, from: rewritten, optimizer: true)
    XCTAssertEqual(copy.compiled!.optimizer.iterations, 3)
    XCTAssertEqual(
      copy.compiled!.optimizer.slotValues(1, range: 0..<copy.parameters.count),
      adam.slotValues(1, range: 0..<model.parameters.count))
  }

  func testDLPWrittenKerasFileReadsBackIdentically() throws {
    let model = try Self.load("two_branch.keras")
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dlp-roundtrip-\(getpid()).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try KerasArchive.save(model, to: url.path)
    let zip = try ZipArchive(contentsOf: url)
    XCTAssertEqual(zip.entries.map(\.name), ["metadata.json", "config.json", "model.weights.h5"])
    XCTAssertTrue(zip.entries.allSatisfy { $0.method == 0 })
    let (back, cc, contents) = try KerasArchive.read(path: url.path)
    try back.compile(keras: cc)
    XCTAssertTrue(try KerasArchive.loadOptimizerState(back, from: contents))
    XCTAssertEqual(back.parameters.snapshot(), model.parameters.snapshot())
    XCTAssertEqual(back.compiled!.optimizer.iterations, model.compiled!.optimizer.iterations)
    let io = try WeightsFile.read(Self.path("two_branch.io.npz"))
    let x = [io["a"]!, io["b"]!]
    XCTAssertEqual(try back.predict(x)[0].scalars, try model.predict(x)[0].scalars)
  }

  func testFromLogitsLossObjectTrainsAsKeras() throws {
    let (model, cc, _) = try KerasArchive.read(path: Self.path("logits.keras"))
    try model.compile(keras: cc)
    XCTAssertTrue(model.compiled!.heads[0].loss.fromLogits)
    XCTAssertFalse(model.compiled!.heads[0].fused)
    let d = try WeightsFile.read(Self.path("logits.data.npz"))
    let history = try model.fit(
      ArrayData(x: d["x"]!, y: d["y"]!), options: FitOptions(epochs: 3, batchSize: 16, shuffle: false))
    let expected = try JSONValue.parse(
      Data(contentsOf: URL(fileURLWithPath: Self.path("logits.expected.json"))), source: "logits.expected.json")
    for key in ["loss", "accuracy"] {
      let keras = expected["history"]?[key]?.array?.compactMap(\.double) ?? []
      XCTAssertEqual(keras.count, 3)
      for (ours, theirs) in zip(history.history[key] ?? [], keras) {
        XCTAssertEqual(ours, theirs, accuracy: 1e-5, key)
      }
    }
    // The output stays logits: predict returns the raw values, not probabilities.
    let y = try model.predict(d["x"]!)
    XCTAssertTrue(y.scalars.contains { $0 < 0 })
  }

  func testPerOutputLossObjectsEvaluateAsKeras() throws {
    let (model, cc, _) = try KerasArchive.read(path: Self.path("two_outputs.keras"))
    try model.compile(keras: cc)
    let d = try WeightsFile.read(Self.path("two_outputs.data.npz"))
    let data = try ArrayData(inputs: [d["x"]!], targets: [d["a"]!, d["b"]!])
    let ours = try model.evaluate(data, batchSize: 10)
    let expected = try JSONValue.parse(
      Data(contentsOf: URL(fileURLWithPath: Self.path("two_outputs.expected.json"))),
      source: "two_outputs.expected.json")
    let keras = expected["evaluate"]?.object ?? [:]
    XCTAssertEqual(Set(ours.keys), Set(keras.keys))
    for (k, v) in keras { XCTAssertEqual(ours[k] ?? .nan, v.double!, accuracy: 1e-5, k) }
  }

  func testBrokenFilesAreRefusedClearly() throws {
    XCTAssertThrowsError(try HDF5File.read(bytes: Array(repeating: 7, count: 100), source: "noise.h5")) {
      XCTAssertTrue("\($0)".contains("not an HDF5 file"), "\($0)")
    }
    let good = try FileIO.readBytes(URL(fileURLWithPath: Self.path("mlp.weights.h5")))
    XCTAssertThrowsError(try HDF5File.read(bytes: Array(good.prefix(good.count / 3)), source: "cut.h5")) {
      XCTAssertTrue("\($0)".contains("cut.h5"), "\($0)")
    }
    // Weights of another model: the first mismatch is named.
    let conv = try Self.load("convnet.keras")
    XCTAssertThrowsError(try WeightsFile.load(conv, from: Self.path("mlp.weights.h5"))) {
      XCTAssertTrue("\($0)".contains("conv2d"), "\($0)")
    }
    // A .keras without its weights file.
    var zip = ZipWriter()
    try zip.add(entry: "config.json", bytes: Array("{}".utf8))
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("dlp-noweights-\(getpid()).keras")
    defer { try? FileManager.default.removeItem(at: url) }
    try zip.write(to: url)
    XCTAssertThrowsError(try KerasArchive.read(path: url.path)) {
      XCTAssertTrue("\($0)".contains("model.weights.h5"), "\($0)")
    }
  }
}
