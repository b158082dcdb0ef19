import Foundation
import XCTest

@testable import DLP

/// The book's Boston Housing K-fold on the real data, when it is at ../shared/data.
final class KFoldBostonTests: XCTestCase {
  static var dataDirectory: URL {
    // Tests/DLPTests/KFoldBostonTests.swift -> package root -> ../shared/data
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("../shared/data").standardizedFileURL
  }

  func testBostonFourFoldValidationMAE() throws {
    let dir = Self.dataDirectory
    guard
      FileManager.default.fileExists(atPath: dir.appendingPathComponent("boston_housing.npz").path)
    else {
      throw XCTSkip(
        "boston_housing.npz is not in \(dir.path); copy Keras's boston_housing.npz there to run this test"
      )
    }
    let splits = try DatasetCatalog.load(
      "boston_housing", locator: DatasetLocator(environment: ["DLP_DATA": dir.path]))
    let n = splits.train.x.shape[0]
    XCTAssertEqual(n, 404)
    let data = try ArrayData(x: splits.train.x, y: splits.train.y.reshaped(to: [n, 1]))
    func makeModel(_ seed: UInt64) throws -> Model {
      let m = try Sequential(
        [
          InputLayer(shape: [13]), Dense(64, activation: .relu), Dense(64, activation: .relu),
          Dense(1),
        ], seed: seed)
      try m.compile(optimizer: "rmsprop", loss: "mse", metrics: ["mae"])
      return m
    }
    let tasks = try KFoldPlan(folds: 4).tasks(count: n)
    let results = try InProcessFoldRunner(data: data, normalize: true, makeModel: makeModel)
      .run(tasks: tasks, options: CrossValidationOptions(epochs: 20, batchSize: 16))
    let summary = CrossValidationSummary(results)
    XCTAssertEqual(results.map(\.history.trainSamples), [303, 303, 303, 303])
    for r in results {
      XCTAssertLessThan(r.evaluation["mae"]!, 5, "fold \(r.fold): \(r.evaluation)")
    }
    XCTAssertLessThan(summary.mean["mae"]!, 4, summary.description)
    XCTAssertEqual(summary.meanHistory["val_mae"]?.count, 20)
  }
}
