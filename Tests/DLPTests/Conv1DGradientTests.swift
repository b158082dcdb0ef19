import DLPTensor
import XCTest

@testable import DLP

/// Finite-difference checks of Conv1D, the 1-D pooling layers and the masked mean, and the
/// output lengths of every padding.
final class Conv1DGradientTests: XCTestCase {
  func check(
    _ layers: [Layer], input: [Int], targets: Int, file: StaticString = #filePath,
    line: UInt = #line
  ) throws {
    let model = try Sequential([InputLayer(shape: input)] + layers, seed: 3)
    try model.compile(optimizer: SGD(), losses: [MeanSquaredError()])
    let data = try ArrayData(
      x: testTensor([4] + input, seed: 11), y: testTensor([4, targets], seed: 5))
    GradientChecker(model: model, data: data).run(file: file, line: line)
  }

  func testConv1DEveryPaddingStrideAndDilation() throws {
    for padding in Padding1D.allCases {
      try check(
        [
          Conv1D(3, kernelSize: 3, padding: padding, activation: .relu),
          Conv1D(2, kernelSize: 2, strides: 2, padding: padding), Flatten(), Dense(2),
        ],
        input: [9, 2], targets: 2)
      try check(
        [
          Conv1D(3, kernelSize: 3, padding: padding, dilationRate: 2, activation: .tanh), Flatten(),
          Dense(2),
        ],
        input: [9, 2], targets: 2)
    }
    try check(
      [Conv1D(3, kernelSize: 1, useBias: false), Flatten(), Dense(2)], input: [5, 2], targets: 2)
  }

  /// The book's widths (32 filters, 7 taps) and an odd filter count on two threads: the kernel
  /// gradient's (tap, filter) columns are split across the threads, half a tap each side.
  func testConv1DKernelGradientSplitAcrossThreads() throws {
    let before = BLAS.threads
    BLAS.setThreads(2)
    defer { BLAS.setThreads(before) }
    for filters in [32, 17] {
      try check(
        [Conv1D(filters, kernelSize: 7, activation: .tanh), GlobalAveragePooling1D(), Dense(2)],
        input: [12, 3], targets: 2)
    }
  }

  func testPooling1D() throws {
    for padding in [Padding.valid, .same] {
      try check(
        [
          Conv1D(3, kernelSize: 2, activation: .tanh), MaxPooling1D(2, padding: padding),
          AveragePooling1D(2, strides: 1, padding: padding), Flatten(), Dense(2),
        ],
        input: [9, 2], targets: 2)
    }
    try check(
      [Conv1D(3, kernelSize: 2), GlobalMaxPooling1D(), Dense(2)], input: [7, 2], targets: 2)
    try check(
      [Conv1D(3, kernelSize: 2), GlobalAveragePooling1D(keepdims: true), Flatten(), Dense(2)],
      input: [7, 2], targets: 2)
  }

  func testOutputLengths() throws {
    // Keras: valid (9 - 5) / 2 + 1 = 3; same ceil(9 / 2) = 5; causal (9 - 1) / 2 + 1 = 5;
    // dilation 3 of a 3-kernel spans 7 steps: valid 3.
    let cases: [(Layer, [Int])] = [
      (try Conv1D(4, kernelSize: 5, strides: 2), [3, 4]),
      (try Conv1D(4, kernelSize: 5, strides: 2, padding: .same), [5, 4]),
      (try Conv1D(4, kernelSize: 5, strides: 2, padding: .causal), [5, 4]),
      (try Conv1D(4, kernelSize: 3, dilationRate: 3), [3, 4]),
      (try MaxPooling1D(4), [2, 2]),
      (try AveragePooling1D(4, padding: .same), [3, 2]),
    ]
    for (layer, shape) in cases {
      let model = try Sequential([InputLayer(shape: [9, 2]), layer])
      XCTAssertEqual(model.outputs[0].shape, shape, layer.name)
    }
  }

  func testCausalConvolutionSeesNoFutureStep() throws {
    let model = try Sequential([
      InputLayer(shape: [6, 1]), Conv1D(1, kernelSize: 3, padding: .causal, dilationRate: 2),
    ])
    try model.layers[1].setWeights([
      Tensor(uncheckedShape: [3, 1, 1], scalars: [1, 10, 100]), Tensor([0.5]),
    ])
    let y = try model.predict(Tensor(uncheckedShape: [1, 6, 1], scalars: [1, 2, 3, 4, 5, 6]))
    // y_t = x_{t-4} + 10 x_{t-2} + 100 x_t + 0.5, zeros before the start.
    XCTAssertEqual(y.scalars, [100.5, 200.5, 310.5, 420.5, 531.5, 642.5])
  }

  func testMaskedAverageLeavesPaddingOut() throws {
    let ids = InputLayer(shape: [4], dtype: .int32)
    let table = try Embedding(inputDim: 5, outputDim: 1, maskZero: true)
    let model = try Sequential([ids, table, GlobalAveragePooling1D()])
    try table.setWeights([Tensor(uncheckedShape: [5, 1], scalars: [7, 1, 2, 3, 4])])
    let words: [Int32] = [0, 0, 1, 3, 2, 0, 4, 4, 1, 2, 3, 4]
    let y = try model.predict(ArrayData(inputs: [SampleArray(shape: [3, 4], int32: words)]))[0]
    XCTAssertEqual(y.scalars, [2, 10.0 / 3, 2.5])
  }
}
