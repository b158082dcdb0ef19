import Foundation
import XCTest

@testable import DLP

/// Timing of the imdb-lstm and imdb-conv1d training steps (batch 128, 200 ids), layer by layer
/// and for the optimizer. Runs only with DLP_SEQ_BENCH=1 (numbers depend on the machine and its
/// load); DLP_SEQ_BENCH_THREADS=N sets the BLAS threads.
final class SequenceBenchmarkTests: XCTestCase {
  func testSequenceStepBreakdown() throws {
    guard ProcessInfo.processInfo.environment["DLP_SEQ_BENCH"] != nil else {
      throw XCTSkip("set DLP_SEQ_BENCH=1 to time the sequence models' steps")
    }
    if let t = ProcessInfo.processInfo.environment["DLP_SEQ_BENCH_THREADS"].flatMap(Int.init) {
      BLAS.setThreads(t)
    }
    let models: [(String, () throws -> [Layer])] = [
      (
        "imdb-lstm",
        { [try Embedding(10000, 32), try LSTM(32), try Dense(1, activation: .sigmoid)] }
      ),
      (
        "imdb-conv1d",
        {
          [
            try Embedding(10000, 32), try Conv1D(32, kernelSize: 7, activation: .relu),
            try MaxPooling1D(5), try Conv1D(32, kernelSize: 7, activation: .relu),
            GlobalMaxPooling1D(), try Dense(1, activation: .sigmoid),
          ]
        }
      ),
    ]
    for (name, layers) in models {
      try breakdown(name, layers: layers())
    }
  }

  func breakdown(_ name: String, layers: [Layer]) throws {
    let (batch, steps) = (128, 200)
    let model = try Sequential([InputLayer(shape: [steps], dtype: .int32)] + layers, seed: 1)
    try model.compile(optimizer: RMSprop(), losses: [BinaryCrossentropy()])
    var state: UInt64 = 1
    let ids = (0..<(batch * steps)).map { _ -> Int32 in
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return Int32(1 + (state >> 33) % 9999)
    }
    let data = try ArrayData(
      x: SampleArray(shape: [batch, steps], int32: ids),
      y: SampleArray(labels(batch, classes: 2, seed: 2)))
    try printStepBreakdown(name, model: model, data: data, batch: batch)
  }
}
