import XCTest

@testable import DLP

/// Reads its int32 input buffer as ids and writes each id as a Float: stands in for an
/// Embedding, to check what the executor delivers to such a layer.
final class IdEcho: Layer {
  init() { super.init(name: nil, defaultPrefix: "id_echo") }
  override var readsInt32Input: Bool { true }
  override func forward(_ p: ForwardPass) {
    let n = p.batch * outputShape.reduce(1, *)
    UnsafeRawPointer(p.inputs[0]).withMemoryRebound(to: Int32.self, capacity: n) { ids in
      for i in 0..<n { p.output[i] = Float(ids[i]) }
    }
  }
}

/// Samples kept in their own element type train exactly as the Float32 values they stand for,
/// and integer ids reach a layer that reads ids without a float round trip.
final class TypedSamplesTests: XCTestCase {
  func model(seed: UInt64) throws -> Model {
    let m = try Sequential(
      [InputLayer(shape: [2, 3]), Flatten(), Dense(4, activation: .relu), Dense(3, activation: .softmax)], seed: seed)
    try m.compile(optimizer: "rmsprop", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return m
  }

  func testBytesTrainAsTheirValues() throws {
    var rng = SeededGenerator(seed: 3)
    let bytes = (0..<(40 * 6)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
    let labels = (0..<40).map { Float($0 % 3) }
    let y = try Tensor(shape: [40], scalars: labels)
    let asBytes = try ArrayData(x: SampleArray(shape: [40, 2, 3], uint8: bytes, divisor: 255), y: SampleArray(y))
    let asFloats = try ArrayData(x: Tensor(shape: [40, 2, 3], scalars: bytes.map { Float($0) / 255 }), y: y)
    let options = FitOptions(epochs: 2, batchSize: 8, seed: 5)
    let a = try model(seed: 9)
    let b = try model(seed: 9)
    let ha = try a.fit(asBytes, options: options, validationSplit: 0.25)
    let hb = try b.fit(asFloats, options: options, validationSplit: 0.25)
    XCTAssertEqual(ha.history, hb.history)
    XCTAssertEqual(a.parameters.snapshot(), b.parameters.snapshot(), "bit for bit the same training")
  }

  func testIdsReachAnIdLayerBitForBit() throws {
    let x = Input(shape: [3], dtype: .int32)
    let m = try Model(inputs: x, outputs: try IdEcho()(x))
    // 16777217 has no Float32: delivered as a float it would arrive as 16777216.
    let ids = try SampleArray(shape: [2, 3], int32: [16_777_217, -4, 0, 7, 65_536, 2])
    let out = try m.predict(ArrayData(inputs: [ids]), batchSize: 2)[0]
    XCTAssertEqual(out.scalars.map { Int32($0) }, [16_777_216, -4, 0, 7, 65_536, 2].map(Int32.init))
    // The echo converts to Float itself; check the raw buffer the executor filled too.
    let executor = GraphExecutor(model: m, capacity: 2)
    let rows = [1, 0]
    rows.withUnsafeBufferPointer { executor.load(rows: $0, from: try! ArrayData(inputs: [ids]), targets: false) }
    let input = executor.output(node: 0)
    let raw = (0..<6).map { Int32(bitPattern: input[$0].bitPattern) }
    XCTAssertEqual(raw, [7, 65_536, 2, 16_777_217, -4, 0])
  }

  func testIdInputsAreCheckedAgainstLayersAndData() throws {
    let x = Input(shape: [3], dtype: .int32)
    XCTAssertThrowsError(try Model(inputs: x, outputs: try Dense(2)(x))) { error in
      XCTAssertTrue("\(error)".contains("integer ids"), "\(error)")
    }
    let m = try Model(inputs: x, outputs: try IdEcho()(x))
    XCTAssertThrowsError(try m.predict([Tensor(shape: [1, 3], scalars: [1, 2, 3])])) { error in
      XCTAssertTrue("\(error)".contains("takes integer ids"), "\(error)")
    }
  }

  func testInputDTypeRoundTripsThroughKerasJSON() throws {
    let input = try KerasModelReader.inputLayer(["batch_shape": [nil, 5], "dtype": "int64", "name": "tokens"])
    XCTAssertEqual(input.dtype, .int32)
    XCTAssertEqual(KerasModelWriter.layerEntry(input)["config"]?["dtype"], "int32")
    XCTAssertEqual(try KerasModelReader.inputLayer(["batch_shape": [nil, 5], "dtype": "float32"]).dtype, .float32)
    XCTAssertThrowsError(try KerasModelReader.inputLayer(["batch_shape": [nil, 5], "dtype": "string"]))
  }
}
