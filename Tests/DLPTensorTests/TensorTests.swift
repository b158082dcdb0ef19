import XCTest

@testable import DLPTensor

final class TensorTests: XCTestCase {
  func testBroadcasting() throws {
    let a = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let b = Tensor([10, 20, 30])
    XCTAssertEqual(try (a + b).scalars, [11, 22, 33, 14, 25, 36])
    let col = try Tensor(shape: [2, 1], scalars: [1, 2])
    XCTAssertEqual(try (a * col).scalars, [1, 2, 3, 8, 10, 12])
    XCTAssertThrowsError(try a + Tensor([1, 2]))
  }

  func testReductionsAndArgmax() throws {
    let a = try Tensor(shape: [2, 3], scalars: [1, 5, 3, 4, 2, 6])
    XCTAssertEqual(try a.sum(axis: 0).scalars, [5, 7, 9])
    XCTAssertEqual(try a.max(axis: 1).scalars, [5, 6])
    XCTAssertEqual(try a.mean(axis: -1, keepDims: true).shape, [2, 1])
    XCTAssertEqual(a.argmaxLastAxis(), [1, 2])
  }

  func testMatmulWithTransposesMatchesNaive() throws {
    let a = try Tensor(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
    let b = try Tensor(shape: [3, 2], scalars: [7, 8, 9, 10, 11, 12])
    XCTAssertEqual(try Tensor.matmul(a, b).scalars, [58, 64, 139, 154])
    XCTAssertEqual(try Tensor.matmul(b, a, transposeA: true, transposeB: true).scalars, try Tensor.matmul(a, b).transposed().scalars)
    XCTAssertThrowsError(try Tensor.matmul(a, a))
  }

  func testIndexingAndReshape() throws {
    let a = try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6])
    XCTAssertEqual(try a.gather(rows: [2, 0]).scalars, [5, 6, 1, 2])
    XCTAssertEqual(try a.slice(rows: 1..<3).shape, [2, 2])
    XCTAssertEqual(try a.reshaped(to: [-1]).shape, [6])
    XCTAssertThrowsError(try a.reshaped(to: [4, -1]))
    XCTAssertThrowsError(try a.gather(rows: [3]))
    XCTAssertEqual(try a.transposed().scalars, [1, 3, 5, 2, 4, 6])
  }

  func testInitializersFollowKerasLimits() {
    var rng = SeededGenerator(seed: 1)
    var w = [Float](repeating: 0, count: 784 * 512)
    w.withUnsafeMutableBufferPointer { Initializer.glorotUniform.fill($0, shape: [784, 512], rng: &rng) }
    let limit = (6.0 / Float(784 + 512)).squareRoot()
    XCTAssertLessThanOrEqual(w.map(abs).max()!, limit)
    XCTAssertGreaterThan(w.map(abs).max()!, limit * 0.99)
    XCTAssertEqual(w.reduce(0, +) / Float(w.count), 0, accuracy: 1e-3)
  }

  func testKeyedRandomIsIndependentOfCallOrder() {
    let k = KeyedRandom.key(1, 2, 3)
    XCTAssertEqual(KeyedRandom.uniform(k, 5), KeyedRandom.uniform(k, 5))
    XCTAssertNotEqual(KeyedRandom.uniform(k, 5), KeyedRandom.uniform(KeyedRandom.key(1, 2, 4), 5))
  }
}
