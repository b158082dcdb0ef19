import DLPTensor
import XCTest

@testable import DLPData

final class PreprocessingTests: XCTestCase {
  func testNormalizerUsesPopulationStdAndGuardsZero() throws {
    let train = try Tensor(shape: [4, 3], scalars: [1, 10, 5, 2, 20, 5, 3, 30, 5, 4, 40, 5])
    let normalizer = try Normalizer(fitting: train)
    XCTAssertEqual(normalizer.mean, [2.5, 25, 5])
    // numpy: np.array([1,2,3,4]).std() == 1.118033988749895 (ddof=0)
    XCTAssertEqual(normalizer.std[0], 1.118034, accuracy: 1e-6)
    XCTAssertEqual(normalizer.std[1], 11.18034, accuracy: 1e-4)
    XCTAssertEqual(normalizer.std[2], 1)  // constant feature: no division by zero
    let out = try normalizer.apply(try Tensor(shape: [1, 3], scalars: [2.5, 36.18034, 7]))
    XCTAssertEqual(out.scalars[0], 0)
    XCTAssertEqual(out.scalars[1], 1, accuracy: 1e-5)
    XCTAssertEqual(out.scalars[2], 2)
    XCTAssertThrowsError(try normalizer.apply(Tensor(repeating: 0, shape: [2, 4])))
    XCTAssertThrowsError(try Normalizer(fitting: Tensor([1, 2])))
  }

  func testToCategorical() throws {
    let onehot = try toCategorical(labels: Tensor([2, 0, 1]), numClasses: 3)
    XCTAssertEqual(onehot, try Tensor(shape: [3, 3], scalars: [0, 0, 1, 1, 0, 0, 0, 1, 0]))
    assertDataError("label 3.0 at index 1", "0..<3") {
      _ = try toCategorical(labels: Tensor([0, 3]), numClasses: 3)
    }
    assertDataError("label -1.0 at index 0") {
      _ = try toCategorical(labels: Tensor([-1]), numClasses: 3)
    }
    assertDataError("label 0.5 at index 0") {
      _ = try toCategorical(labels: Tensor([0.5]), numClasses: 3)
    }
  }

  func testVectorizeSequences() throws {
    let x = try vectorizeSequences([[1, 3, 3], [], [0]], dimension: 4)
    XCTAssertEqual(x, try Tensor(shape: [3, 4], scalars: [0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0]))
    assertDataError("word index 4 in sequence 0", "0..<4") {
      _ = try vectorizeSequences([[4]], dimension: 4)
    }
  }

  func testPadSequencesLikeKeras() throws {
    // keras.utils.pad_sequences([[1,2,3],[4,5],[6]], maxlen=2) == [[2,3],[4,5],[0,6]]
    let seqs = [[1, 2, 3], [4, 5], [6]]
    XCTAssertEqual(try padSequences(seqs, maxlen: 2).scalars, [2, 3, 4, 5, 0, 6])
    XCTAssertEqual(
      try padSequences(seqs, maxlen: 2, padding: .post, truncating: .post).scalars,
      [1, 2, 4, 5, 6, 0])
    XCTAssertEqual(try padSequences(seqs).shape, [3, 3])
    XCTAssertEqual(try padSequences(seqs).scalars, [1, 2, 3, 0, 4, 5, 0, 0, 6])
    XCTAssertEqual(
      try padSequences([[], [7]], maxlen: 3, value: -1).scalars, [-1, -1, -1, -1, -1, 7])
    XCTAssertEqual(try padSequences(seqs, maxlen: 0).shape, [3, 0])
  }
}
