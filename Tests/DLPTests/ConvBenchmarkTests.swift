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
    let steps = 40
    let t0 = Date()
    let c0 = cpuSeconds()
    for _ in 0..<steps { try step() }
    let perStep = Date().timeIntervalSince(t0) / Double(steps)
    let cpuPerStep = (cpuSeconds() - c0) / Double(steps)
    print(
      String(
        format:
          "convnet step: %.2f ms wall (%.0f samples/s), %.2f ms CPU (%.0f samples per CPU second), BLAS threads %d",
        perStep * 1e3, Double(batch) / perStep, cpuPerStep * 1e3, Double(batch) / cpuPerStep,
        BLAS.threads))

    // Layer by layer, on the backend's executor buffers.
    let ex = backend.step.executor
    for (k, n) in model.nodes.enumerated() where !(n.layer is InputLayer) {
      let f = ForwardPass(
        inputs: ex.inputPointers[k], output: ex.outputs[k], scratch: ex.scratch[k], batch: batch,
        training: true,
        deferActivation: ex.fusedNode[k],
        randomness: StepRandomness())
      let b = BackwardPass(
        inputs: ex.inputPointers[k], output: ex.outputs[k], outputGrad: ex.grads[k],
        inputGrads: ex.inputGradPointers[k],
        scratch: ex.scratch[k], batch: batch, deferActivation: ex.fusedNode[k],
        computeWeightGrads: n.layer.parameterCount > 0,
        accumulateWeightGrads: false)
      let reps = 20
      let t1 = cpuSeconds()
      for _ in 0..<reps { n.layer.forward(f) }
      let fwd = (cpuSeconds() - t1) / Double(reps)
      let t2 = cpuSeconds()
      for _ in 0..<reps {
        n.layer.forward(f)
        n.layer.backward(b)
      }
      let bwd = (cpuSeconds() - t2) / Double(reps) - fwd
      print(
        String(
          format: "  %-16@ CPU ms: forward %7.3f  backward %7.3f", n.layer.name as NSString,
          fwd * 1e3, bwd * 1e3))
    }
  }
}

/// CPU seconds of the whole process (every BLAS thread), so timings mean something on a loaded machine.
func cpuSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
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
