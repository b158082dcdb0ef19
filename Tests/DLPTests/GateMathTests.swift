import Foundation
import XCTest

@testable import DLP

/// The vectorised exp, sigmoid and tanh of the recurrent cells against libm, over the range a
/// gate sees (and beyond, where they saturate).
final class GateMathTests: XCTestCase {
  func worstError(
    _ f: (GateMath.V) -> GateMath.V, _ reference: (Double) -> Double, range: ClosedRange<Float>
  ) -> Double {
    var worst = 0.0
    let n = 20_000
    for i in stride(from: 0, to: n, by: 8) {
      var x = GateMath.V()
      for l in 0..<8 {
        x[l] = range.lowerBound + (range.upperBound - range.lowerBound) * Float(i + l) / Float(n)
      }
      let y = f(x)
      for l in 0..<8 {
        let want = reference(Double(x[l]))
        // Relative where the value is not tiny, absolute (in float epsilons) near zero.
        worst = max(worst, abs(Double(y[l]) - want) / max(abs(want), 1e-3))
      }
    }
    return worst
  }

  func testAgainstLibm() {
    XCTAssertLessThan(worstError(GateMath.exp, Foundation.exp, range: -87...88), 4e-7)
    XCTAssertLessThan(
      worstError(GateMath.sigmoid, { 1 / (1 + Foundation.exp(-$0)) }, range: -30...30), 4e-7)
    XCTAssertLessThan(worstError(GateMath.tanh, Foundation.tanh, range: -12...12), 4e-7)
    XCTAssertLessThan(worstError(GateMath.tanh, Foundation.tanh, range: -0.01...0.01), 4e-7)
    // Saturation and the clamps: no NaN or infinity.
    let extreme = GateMath.V(-1e30, -200, -89, -0, 0, 89, 200, 1e30)
    for v in [GateMath.exp(extreme), GateMath.sigmoid(extreme), GateMath.tanh(extreme)] {
      for l in 0..<8 { XCTAssertTrue(v[l].isFinite, "\(v)") }
    }
    XCTAssertLessThan(GateMath.sigmoid(extreme)[0], 1e-37)
    XCTAssertEqual(GateMath.tanh(extreme)[7], 1)
  }
}
