import DLP
import DLPTensor
import XCTest

/// Sizes and labels no model can use end in a clear error, never an overflow trap or an
/// allocation that cannot succeed: layers whose weights or outputs are too big (from the API
/// or a model document), batch sizes larger than the data, labels out of range.
final class HostileSizesTests: XCTestCase {
  func assertShapeError(
    _ body: () throws -> Void, _ needles: [String], file: StaticString = #filePath,
    line: UInt = #line
  ) {
    do {
      try body()
      XCTFail("expected an error mentioning \(needles)", file: file, line: line)
    } catch let e as DLPError {
      for n in needles {
        XCTAssertTrue(
          e.description.contains(n), "'\(e)' does not mention '\(n)'", file: file, line: line)
      }
    } catch {
      XCTFail("expected a DLPError, got \(error)", file: file, line: line)
    }
  }

  func testShapeProductsAreChecked() throws {
    XCTAssertEqual(ShapeLimits.elementCount([3, 4, 5]), 60)
    XCTAssertNil(ShapeLimits.elementCount([1 << 32, 1 << 32]))
    XCTAssertNil(ShapeLimits.elementCount([2, -1]))
    XCTAssertEqual(try ShapeLimits.check([0, 7], "x"), 0)
    assertShapeError({ try ShapeLimits.check([0, .max, 2], "x") }, ["x", "more than"])
    assertShapeError({ try ShapeLimits.check([1 << 16, 1 << 16], "y") }, ["y", "2147483647"])
  }

  func testADenseOfAHundredTrillionUnitsIsRefused() {
    assertShapeError(
      { _ = try Sequential([InputLayer(shape: [784]), Dense(100_000_000_000_000, name: "huge")]) },
      ["huge", "100000000000000"])
    assertShapeError(
      { _ = try Sequential([InputLayer(shape: [1 << 20]), Dense(1 << 20, name: "wide")]) },
      ["wide/kernel", "[1048576, 1048576]"])
    assertShapeError(
      { _ = try Sequential([InputLayer(shape: [1 << 40, 1 << 40]), Dense(3, name: "after")]) },
      ["after", "input 0"])
  }

  func testAModelDocumentWithHugeSizesIsRefused() throws {
    let model = try Sequential([InputLayer(shape: [4]), Dense(3, name: "d")])
    let text = try model.toJSON()
    let units = text.replacingOccurrences(of: "\"units\": 3", with: "\"units\": 100000000000000")
      .replacingOccurrences(of: "\"units\":3", with: "\"units\":100000000000000")
    XCTAssertNotEqual(units, text, "the document's units were not found to edit")
    assertShapeError(
      { _ = try KerasModelReader.read(JSONValue.parse(units, source: "test")) }, ["100000000000000"]
    )
    let inputs = text.replacingOccurrences(
      of: "[null, 4]", with: "[null, 100000000000000, 100000000000000]"
    )
    .replacingOccurrences(of: "[null,4]", with: "[null,100000000000000,100000000000000]")
    XCTAssertNotEqual(inputs, text, "the document's batch_shape was not found to edit")
    assertShapeError(
      { _ = try KerasModelReader.read(JSONValue.parse(inputs, source: "test")) }, ["batch_shape"])
  }

  func testBatchSizesLargerThanTheDataAreOneBatch() {
    XCTAssertEqual(FitOptions.effectiveBatchSize(.max, rows: 500), 500)
    XCTAssertEqual(FitOptions.effectiveBatchSize(32, rows: 500), 32)
    XCTAssertEqual(FitOptions.effectiveBatchSize(32, rows: 0), 1)
  }

  func testLabelsOutOfRangeHugeOrNaNAreRefusedBeforeAStep() throws {
    let model = try Sequential([InputLayer(shape: [2]), Dense(3, activation: .softmax)])
    try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy")
    let x = try Tensor(shape: [3, 2], scalars: [0, 1, 1, 0, 1, 1])
    XCTAssertNoThrow(
      try model.validateData([
        .train: try ArrayData(x: x, y: try Tensor(shape: [3], scalars: [0, 2, 1]))
      ]))
    for (label, needle) in [
      (Float(3), "label 3.0"), (1e8, "label 1e+08"), (.nan, "label nan"), (-1, "label -1.0"),
      (0.5, "label 0.5"),
    ] {
      let y = try Tensor(shape: [3], scalars: [0, label, 1])
      assertShapeError(
        { try model.validateData([.train: try ArrayData(x: x, y: y)]) }, [needle, "index 1"])
      assertShapeError(
        {
          try model.validateData([
            .train: try ArrayData(x: x, y: try Tensor(shape: [3], scalars: [0, 1, 1])),
            .validation: try ArrayData(x: x, y: y),
          ])
        },
        [needle])
    }
    // Test data without targets: predictions only, nothing to check.
    XCTAssertNoThrow(try model.validateData([.test: try ArrayData(inputs: [x])]))
  }
}
