import XCTest

@testable import DLP

/// Checks a compiled model's analytic gradients (weights and inputs) against central finite
/// differences of the batch loss, computed in training mode with fixed sample ids so dropout
/// masks stay put between evaluations.
struct GradientChecker {
  let model: Model
  let data: ArrayData
  // Small enough not to straddle ReLU kinks or L1 at zero in practice; Double accumulation of
  // the loss keeps the central difference accurate at this step.
  var epsilon: Float = 1e-3
  var tolerance: Float = 2e-2
  /// Integer inputs (ids for an Embedding) have no gradient to check.
  var checkInputs = true

  /// Mean loss over the batch (plus regularisation), as the training step sees it.
  func loss(_ executor: GraphExecutor) -> Double {
    let c = model.compiled!
    var stats = [Double](repeating: 0, count: c.layout.size)
    stats.withUnsafeMutableBufferPointer { executor.loss(batch: data.count, stats: $0.baseAddress!, gradScale: nil) }
    return stats[0] / Double(data.count) + model.applyRegularization(addGradients: false)
  }

  func run(file: StaticString = #filePath, line: UInt = #line) {
    let n = data.count
    let executor = GraphExecutor(model: model, capacity: n, inputGradients: true)
    let rows = Array(0..<n)
    rows.withUnsafeBufferPointer { executor.load(rows: $0, from: data, targets: true) }
    let c = model.compiled!
    var stats = [Double](repeating: 0, count: c.layout.size)
    executor.forward(batch: n, training: true, trainStep: 7)
    stats.withUnsafeMutableBufferPointer { executor.loss(batch: n, stats: $0.baseAddress!, gradScale: 1 / Float(n)) }
    executor.backward(batch: n)
    _ = model.applyRegularization(addGradients: true)
    let p = model.parameters
    let analytic = Array(p.gradBuffer)

    func numeric(_ perturb: (Float) -> Void) -> Double {
      perturb(epsilon)
      executor.forward(batch: n, training: true, trainStep: 7)
      let plus = loss(executor)
      perturb(-2 * epsilon)
      executor.forward(batch: n, training: true, trainStep: 7)
      let minus = loss(executor)
      perturb(epsilon)
      return (plus - minus) / Double(2 * epsilon)
    }
    // Every weight of small models; a spread of them for larger ones.
    let step = Swift.max(1, p.count / 200)
    for i in stride(from: 0, to: p.count, by: step) where isTrainable(i) {
      let num = numeric { p.values[i] += $0 }
      assertClose(Double(analytic[i]), num, "weight \(i)", file: file, line: line)
    }
    // Gradient with respect to each model input.
    for (k, input) in model.inputs.enumerated() where checkInputs && input.dtype == .float32 {
      let node = model.nodes.firstIndex { $0 === input.node }!
      let width = input.shape.reduce(1, *)
      let buffer = UnsafeMutablePointer(mutating: executor.output(node: node))
      let grad = Array(UnsafeBufferPointer(start: executor.gradient(node: node), count: n * width))
      for j in stride(from: 0, to: n * width, by: Swift.max(1, n * width / 50)) {
        let num = numeric { buffer[j] += $0 }
        assertClose(Double(grad[j]), num, "input \(k) element \(j)", file: file, line: line)
      }
    }
  }

  func isTrainable(_ i: Int) -> Bool { model.parameters.trainableRanges.contains { $0.contains(i) } }

  func assertClose(_ a: Double, _ b: Double, _ what: String, file: StaticString, line: UInt) {
    let scale = Swift.max(1e-2, Swift.abs(a), Swift.abs(b))
    XCTAssertLessThanOrEqual(Swift.abs(a - b) / scale, Double(tolerance), "\(what): analytic \(a) vs numeric \(b)", file: file, line: line)
  }
}

/// Deterministic pseudo-random test data.
func testTensor(_ shape: [Int], seed: UInt64, scale: Float = 1) -> Tensor {
  var rng = SeededGenerator(seed: seed)
  return Tensor(uncheckedShape: shape, scalars: (0..<shape.reduce(1, *)).map { _ in (rng.nextUniform() * 2 - 1) * scale })
}

func labels(_ n: Int, classes: Int, seed: UInt64) -> Tensor {
  var rng = SeededGenerator(seed: seed)
  return Tensor(uncheckedShape: [n, 1], scalars: (0..<n).map { _ in Float(rng.next() % UInt64(classes)) })
}
