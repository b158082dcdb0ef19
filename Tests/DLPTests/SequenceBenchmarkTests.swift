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
    let backend = try LocalBackend(model: model, data: [.train: data], batchSize: batch)
    let rows = Array(0..<batch)
    var stats = [Double](repeating: 0, count: model.compiled!.layout.size)
    func step() throws {
      try rows.withUnsafeBufferPointer { r in
        try stats.withUnsafeMutableBufferPointer {
          try backend.trainStep(rows: r, epoch: 0, step: 0, stats: $0.baseAddress!)
        }
      }
    }
    for _ in 0..<5 { try step() }
    let count = 40
    let (w0, c0) = (Date(), cpuSeconds())
    for _ in 0..<count { try step() }
    let perStep = Date().timeIntervalSince(w0) / Double(count)
    let cpuPerStep = (cpuSeconds() - c0) / Double(count)
    print(
      String(
        format: "%@ step: %.2f ms wall (%.0f samples/s), %.2f ms CPU, BLAS threads %d",
        name as NSString, perStep * 1e3, Double(batch) / perStep, cpuPerStep * 1e3, BLAS.threads))

    let ex = backend.step.executor
    for (k, n) in model.nodes.enumerated() where !(n.layer is InputLayer) {
      let f = ForwardPass(
        inputs: ex.inputPointers[k], output: ex.outputs[k], scratch: ex.scratch[k], batch: batch,
        training: true, deferActivation: ex.fusedNode[k], randomness: StepRandomness())
      let b = BackwardPass(
        inputs: ex.inputPointers[k], output: ex.outputs[k], outputGrad: ex.grads[k],
        inputGrads: ex.inputGradPointers[k], scratch: ex.scratch[k], batch: batch,
        deferActivation: ex.fusedNode[k], computeWeightGrads: n.layer.parameterCount > 0,
        accumulateWeightGrads: false)
      let reps = 20
      let t1 = Date()
      for _ in 0..<reps { n.layer.forward(f) }
      let fwd = Date().timeIntervalSince(t1) / Double(reps)
      let t2 = Date()
      for _ in 0..<reps {
        n.layer.forward(f)
        n.layer.backward(b)
      }
      let bwd = Date().timeIntervalSince(t2) / Double(reps) - fwd
      print(
        String(
          format: "  %-22@ wall ms: forward %7.3f  backward %7.3f", n.layer.name as NSString,
          fwd * 1e3, bwd * 1e3))
    }
  }
}
