import DLP
import Foundation
import XCTest

/// A sequence model Keras itself saved as a `.keras` file (Embedding with mask_zero,
/// Bidirectional GRU, LSTM, causal Conv1D): Keras keeps recurrent weights in cells
/// (`layers/lstm/cell/vars`, `layers/bidirectional/forward_layer/cell/vars`). DLP reads it with
/// Keras's parameter count and outputs, and writes a file that reads back the same.
final class SequenceKerasFileTests: XCTestCase {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("../Fixtures/keras-sequences").standardized

  func path(_ suffix: String) -> String {
    Self.folder.appendingPathComponent("seq_keras_file" + suffix).path
  }

  func outputs(of model: Model) throws -> (got: [Float], want: [Float]) {
    let archive = try NPZArchive(contentsOf: URL(fileURLWithPath: path(".io.npz")))
    let x = try archive.array("x").samples()
    let got = try model.predict(
      ArrayData(inputs: [x.reshaped(to: [x.rows] + model.inputs[0].shape)]), batchSize: 5)
    return (got[0].scalars, try XCTUnwrap(WeightsFile.read(path(".io.npz"))["y"]).scalars)
  }

  func testKerassFileGivesKerassOutputs() throws {
    let (model, _, _) = try KerasArchive.read(path: path(".keras"))
    let expected = try JSONValue.parse(
      try Data(contentsOf: URL(fileURLWithPath: path(".expected.json"))),
      source: path(".expected.json"))
    XCTAssertEqual(model.parameterCount, expected["count_params"]?.int)
    let (got, want) = try outputs(of: model)
    XCTAssertEqual(got.count, want.count)
    for (a, b) in zip(got, want) { XCTAssertEqual(a, b, accuracy: 1e-5) }
  }

  func testDLPsFileReadsBackTheSame() throws {
    let (model, _, _) = try KerasArchive.read(path: path(".keras"))
    let out = NSTemporaryDirectory() + "seq-\(UUID().uuidString.prefix(8)).keras"
    defer { try? FileManager.default.removeItem(atPath: out) }
    try KerasArchive.save(model, to: out)
    let (again, _, _) = try KerasArchive.read(path: out)
    XCTAssertEqual(try outputs(of: again).got, try outputs(of: model).got)
  }
}
