import Foundation

@testable import DLP

/// CPU seconds of the whole process (every BLAS thread), so timings mean something on a loaded machine.
func cpuSeconds() -> Double {
  var t = timespec()
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t)
  return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
}

/// Prints the time of a compiled model's training step on `data` (one batch of `batch` rows),
/// wall and CPU, then each layer's forward and backward on the step's own buffers: what the
/// env-gated benchmark tests (`ConvBenchmarkTests`, `SequenceBenchmarkTests`) report.
func printStepBreakdown(_ name: String, model: Model, data: ArrayData, batch: Int) throws {
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
      format:
        "%@ step: %.2f ms wall (%.0f samples/s), %.2f ms CPU (%.0f samples per CPU second), BLAS threads %d",
      name as NSString, perStep * 1e3, Double(batch) / perStep, cpuPerStep * 1e3,
      Double(batch) / cpuPerStep, BLAS.threads))

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
    let (w1, c1) = (Date(), cpuSeconds())
    for _ in 0..<reps { n.layer.forward(f) }
    let (fwdWall, fwdCPU) = (
      Date().timeIntervalSince(w1) / Double(reps), (cpuSeconds() - c1) / Double(reps)
    )
    let (w2, c2) = (Date(), cpuSeconds())
    for _ in 0..<reps {
      n.layer.forward(f)
      n.layer.backward(b)
    }
    let bwdWall = Date().timeIntervalSince(w2) / Double(reps) - fwdWall
    let bwdCPU = (cpuSeconds() - c2) / Double(reps) - fwdCPU
    print(
      String(
        format: "  %-22@ ms wall / CPU: forward %7.3f / %7.3f  backward %7.3f / %7.3f",
        n.layer.name as NSString, fwdWall * 1e3, fwdCPU * 1e3, bwdWall * 1e3, bwdCPU * 1e3))
  }
}
