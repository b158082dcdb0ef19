import Foundation
import XCTest

@testable import DLP

/// Timing of the mnist-convnet training step, layer by layer. Runs only with
/// DLP_CONV_BENCH=1 (numbers depend on the machine and its load).
final class ConvBenchmarkTests: XCTestCase {
  func testConvnetStepBreakdown() throws {
    guard ProcessInfo.processInfo.environment["DLP_CONV_BENCH"] != nil else {
      throw XCTSkip("set DLP_CONV_BENCH=1 to time the convnet step")
    }
    let batch = 64
    if let t = ProcessInfo.processInfo.environment["DLP_CONV_BENCH_THREADS"].flatMap(Int.init) {
      BLAS.setThreads(t)
    }
    let model = try Sequential(
      [
        InputLayer(shape: [28, 28, 1]),
        Conv2D(32, kernelSize: 3, activation: .relu), MaxPooling2D(2),
        Conv2D(64, kernelSize: 3, activation: .relu), MaxPooling2D(2),
        Conv2D(64, kernelSize: 3, activation: .relu), Flatten(),
        Dense(64, activation: .relu), Dense(10, activation: .softmax),
      ])
    try model.compile(optimizer: RMSprop(), losses: [SparseCategoricalCrossentropy()])
    let data = try ArrayData(
      x: testTensor([batch, 28, 28, 1], seed: 1), y: labels(batch, classes: 10, seed: 2))
    try printStepBreakdown("convnet", model: model, data: data, batch: batch)
  }
}

extension ConvBenchmarkTests {
  /// sgemm throughput on the convnet's shapes (1 thread unless DLP_CONV_BENCH_THREADS says).
  func testGemmShapes() throws {
    guard ProcessInfo.processInfo.environment["DLP_CONV_BENCH"] != nil else {
      throw XCTSkip("set DLP_CONV_BENCH=1")
    }
    BLAS.setThreads(
      ProcessInfo.processInfo.environment["DLP_CONV_BENCH_THREADS"].flatMap(Int.init) ?? 1)
    let shapes: [(String, Bool, Bool, Int, Int, Int)] = [
      ("conv2 fwd", false, false, 7744, 64, 288), ("conv2 dW", true, false, 288, 64, 7744),
      ("conv2 dCols", false, true, 7744, 288, 64),
      ("conv1 fwd", false, false, 43264, 32, 9), ("conv1 dW", true, false, 9, 32, 43264),
      ("conv3 fwd", false, false, 576, 64, 576), ("mlp", false, false, 128, 512, 784),
      ("conv2 fwd^T", false, true, 64, 7744, 288), ("conv2 fwd tb", false, true, 7744, 64, 288),
      ("conv2 fwd", false, false, 7744, 64, 288),
    ]
    for (name, ta, tb, m, n, k) in shapes {
      let a = testTensor([m * k], seed: 1).scalars
      let b = testTensor([k * n], seed: 2).scalars
      var c = [Float](repeating: 0, count: m * n)
      let reps = 20
      let t0 = cpuSeconds()
      let w0 = Date()
      for _ in 0..<reps {
        BLAS.gemm(
          transposeA: ta, transposeB: tb, m: m, n: n, k: k, a: a, lda: ta ? m : k, b: b,
          ldb: tb ? k : n, c: &c, ldc: n)
      }
      let s = (cpuSeconds() - t0) / Double(reps)
      let w = Date().timeIntervalSince(w0) / Double(reps)
      print(
        String(
          format: "  %-12@ %6d x %4d x %5d: %.3f ms wall, %.1f GFLOP/s; %.3f ms CPU",
          name as NSString, m, n, k, w * 1e3,
          2 * Double(m * n * k) / w / 1e9, s * 1e3))
    }
  }
}
