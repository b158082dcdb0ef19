import XCTest

@testable import DLP

/// Each loss's value against a hand computation, and its gradient (unfused, with respect to
/// probabilities; fused, with respect to logits) against finite differences.
final class LossTests: XCTestCase {
  func evaluate(_ loss: any Loss, _ out: [Float], _ target: [Float], rows: Int, fused: Bool) -> (Double, [Float]) {
    var pred = [Float](repeating: 0, count: out.count)
    var grad = [Float](repeating: 0, count: out.count)
    let v = out.withUnsafeBufferPointer { o in
      target.withUnsafeBufferPointer { t in
        pred.withUnsafeMutableBufferPointer { p in
          grad.withUnsafeMutableBufferPointer { g in
            loss.evaluate(
              output: o.baseAddress!, target: t.baseAddress!, rows: rows, width: out.count / rows, fused: fused,
              prediction: p.baseAddress!, grad: g.baseAddress!, gradScale: 1)
          }
        }
      }
    }
    return (v, grad)
  }

  func checkGradient(_ loss: any Loss, _ out: [Float], _ target: [Float], rows: Int, fused: Bool, line: UInt = #line) {
    let (_, g) = evaluate(loss, out, target, rows: rows, fused: fused)
    for i in out.indices {
      var plus = out
      var minus = out
      let h: Float = 1e-3
      plus[i] += h
      minus[i] -= h
      let num = (evaluate(loss, plus, target, rows: rows, fused: fused).0 - evaluate(loss, minus, target, rows: rows, fused: fused).0) / Double(2 * h)
      XCTAssertEqual(Double(g[i]), num, accuracy: 2e-3 * Swift.max(1, abs(num)), "\(loss.name) fused=\(fused) element \(i)", line: line)
    }
  }

  func testValuesByHand() {
    // Sparse CE on probabilities: -log 0.7 - log 0.5.
    XCTAssertEqual(evaluate(SparseCategoricalCrossentropy(), [0.2, 0.7, 0.1, 0.5, 0.25, 0.25], [1, 0], rows: 2, fused: false).0, -log(0.7) - log(0.5), accuracy: 1e-6)
    // Fused: logits [0, ln 2] -> p = [1/3, 2/3]; label 1 -> -log(2/3).
    XCTAssertEqual(evaluate(SparseCategoricalCrossentropy(), [0, Float(log(2.0))], [1], rows: 1, fused: true).0, -log(2.0 / 3), accuracy: 1e-6)
    XCTAssertEqual(evaluate(CategoricalCrossentropy(), [0.2, 0.8], [0, 1], rows: 1, fused: false).0, -log(0.8), accuracy: 1e-6)
    XCTAssertEqual(evaluate(BinaryCrossentropy(), [0.9, 0.2], [1, 0], rows: 2, fused: false).0, -log(0.9) - log(0.8), accuracy: 1e-6)
    XCTAssertEqual(evaluate(BinaryCrossentropy(), [0], [1], rows: 1, fused: true).0, log(2.0), accuracy: 1e-6)
    XCTAssertEqual(evaluate(MeanSquaredError(), [1, 2, 3, 5], [1, 1, 1, 1], rows: 2, fused: false).0, (0 + 1) / 2 + (4 + 16) / 2, accuracy: 1e-6)
    XCTAssertEqual(evaluate(MeanAbsoluteError(), [1, 2, 3, 5], [1, 1, 1, 1], rows: 2, fused: false).0, 0.5 + 3, accuracy: 1e-6)
  }

  func testFusedCrossEntropyIsStableForLargeLogits() {
    let (v, g) = evaluate(SparseCategoricalCrossentropy(), [1000, -1000, 0], [1], rows: 1, fused: true)
    XCTAssertEqual(v, 2000, accuracy: 1e-3)
    XCTAssertTrue(g.allSatisfy { $0.isFinite })
    let (b, _) = evaluate(BinaryCrossentropy(), [-500], [1], rows: 1, fused: true)
    XCTAssertEqual(b, 500, accuracy: 1e-3)
  }

  func testGradients() {
    checkGradient(SparseCategoricalCrossentropy(), [0.2, 0.5, 0.3, 0.6, 0.3, 0.1], [1, 2], rows: 2, fused: false)
    checkGradient(SparseCategoricalCrossentropy(), [0.3, -1.2, 2.0, 0.5, 0.1, -0.4], [2, 0], rows: 2, fused: true)
    // Rows that do not sum to 1 (Keras divides by the row sum first).
    checkGradient(SparseCategoricalCrossentropy(), [0.1, 0.25, 0.15, 0.9, 0.3, 0.6], [1, 2], rows: 2, fused: false)
    checkGradient(CategoricalCrossentropy(labelSmoothing: 0.2), [0.3, -1.2, 2.0, 0.5, 0.1, -0.4], [0, 0, 1, 1, 0, 0], rows: 2, fused: true)
    checkGradient(BinaryCrossentropy(labelSmoothing: 0.2), [0.3, 0.8, 0.6, 0.1], [0, 1, 1, 0], rows: 2, fused: false)
    checkGradient(CategoricalCrossentropy(), [0.2, 0.5, 0.3, 0.6, 0.3, 0.1], [0, 1, 0, 0.2, 0.3, 0.5], rows: 2, fused: false)
    checkGradient(CategoricalCrossentropy(), [0.3, -1.2, 2.0, 0.5, 0.1, -0.4], [0, 0, 1, 1, 0, 0], rows: 2, fused: true)
    checkGradient(BinaryCrossentropy(), [0.3, 0.8, 0.6, 0.1], [0, 1, 1, 0], rows: 2, fused: false)
    checkGradient(BinaryCrossentropy(), [0.3, -2.0, 1.5, 0.1], [0, 1, 1, 0], rows: 2, fused: true)
    checkGradient(MeanSquaredError(), [0.3, -2.0, 1.5, 0.1], [0, 1, 1, 0], rows: 2, fused: false)
    checkGradient(MeanAbsoluteError(), [0.3, -2.0, 1.5, 0.1], [0, 1, 1, 0], rows: 2, fused: false)
  }

  func testLabelsOutOfRangeAreRejected() {
    let labels: [Float] = [0, 3, 10]
    XCTAssertThrowsError(try labels.withUnsafeBufferPointer { try SparseCategoricalCrossentropy().validate(targets: $0, outputWidth: 10) }) { e in
      XCTAssertTrue("\(e)".contains("label 10.0 at index 2"), "\(e)")
    }
  }

  func testLossLookup() throws {
    XCTAssertEqual(try Losses.named("mean_squared_error").name, "mse")
    XCTAssertThrowsError(try Losses.named("hinge"))
  }
}
