import DLPTensor
import XCTest

@testable import DLP

/// Finite-difference checks of the sequence layers' backward: every weight (and the float
/// inputs) of small models, in training mode so the dropout masks are those of one step.
final class RecurrentGradientTests: XCTestCase {
  func check(
    _ layers: [Layer], input: InputLayer, x: SampleArray, targets: Tensor,
    loss: any Loss = MeanSquaredError(),
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let model = try Sequential([input] + layers, seed: 3)
    try model.compile(optimizer: SGD(), losses: [loss])
    let data = try ArrayData(x: x, y: SampleArray(targets))
    // Steps of 1e-2: the layers are smooth (tanh, sigmoid), and float32 rounding in the forward
    // of a recurrence would swamp the central difference of smaller steps.
    var checker = GradientChecker(model: model, data: data)
    checker.epsilon = 1e-2
    checker.run(file: file, line: line)
  }

  /// Sequences of 5 steps of 3 features.
  func sequences(_ batch: Int = 4) -> (InputLayer, SampleArray) {
    (InputLayer(shape: [5, 3]), SampleArray(testTensor([batch, 5, 3], seed: 11)))
  }

  /// Ids in 1..<9 with padding (0) at the start of some sequences and inside one.
  func ids() -> (InputLayer, SampleArray) {
    let rows: [Int32] = [0, 0, 3, 4, 5, 1, 2, 3, 4, 8, 0, 7, 0, 2, 6, 0, 0, 0, 0, 5]
    return (InputLayer(shape: [5], dtype: .int32), try! SampleArray(shape: [4, 5], int32: rows))
  }

  /// Embeddings in [-1, 1] (not Keras's +-0.05) so the gradients behind them are not tiny.
  func embedding(_ vocabulary: Int, _ width: Int) throws -> Embedding {
    try Embedding(
      inputDim: vocabulary, outputDim: width,
      embeddingsInitializer: .randomUniform(min: -1, max: 1), maskZero: true)
  }

  func testSimpleRNN() throws {
    let (input, x) = sequences()
    try check([SimpleRNN(4), Dense(2)], input: input, x: x, targets: testTensor([4, 2], seed: 5))
    let (i2, x2) = sequences()
    try check(
      [
        SimpleRNN(3, activation: .relu, returnSequences: true, goBackwards: true), Flatten(),
        Dense(2),
      ], input: i2,
      x: x2, targets: testTensor([4, 2], seed: 6))
  }

  func testStackedLSTM() throws {
    let (input, x) = sequences()
    try check(
      [LSTM(4, returnSequences: true), LSTM(3), Dense(2)], input: input, x: x,
      targets: testTensor([4, 2], seed: 5))
  }

  func testLSTMBackwardsWithState() throws {
    let (input, x) = sequences()
    // [h (3), h (3), c (3)] per sample: the state outputs get gradients too.
    try check(
      [LSTM(3, returnState: true, goBackwards: true), Dense(2)], input: input, x: x,
      targets: testTensor([4, 2], seed: 5))
  }

  func testGRUBothResetModes() throws {
    for resetAfter in [true, false] {
      var s = RecurrentSettings()
      s.returnSequences = true
      let (input, x) = sequences()
      try check(
        [GRU(3, settings: s, resetAfter: resetAfter), GRU(2, goBackwards: true), Dense(2)],
        input: input, x: x,
        targets: testTensor([4, 2], seed: 7))
    }
  }

  func testDropoutAndRecurrentDropout() throws {
    // Dropout alone (one input mask), and with recurrent dropout (one mask per gate).
    for (dropout, recurrent) in [(Float(0.3), Float(0)), (0.3, 0.4), (0, 0.4)] {
      let (i1, x1) = sequences()
      try check(
        [
          LSTM(4, returnSequences: true, dropout: dropout, recurrentDropout: recurrent), Flatten(),
          Dense(2),
        ],
        input: i1, x: x1, targets: testTensor([4, 2], seed: 5))
      let (i2, x2) = sequences()
      try check(
        [GRU(3, dropout: dropout, recurrentDropout: recurrent), Dense(2)], input: i2, x: x2,
        targets: testTensor([4, 2], seed: 5))
      var s = RecurrentSettings()
      (s.dropout, s.recurrentDropout, s.goBackwards) = (dropout, recurrent, true)
      let (i3, x3) = sequences()
      try check(
        [GRU(3, settings: s, resetAfter: false), Dense(2)], input: i3, x: x3,
        targets: testTensor([4, 2], seed: 5))
      let (i4, x4) = sequences()
      try check(
        [SimpleRNN(3, dropout: dropout, recurrentDropout: recurrent), Dense(2)], input: i4, x: x4,
        targets: testTensor([4, 2], seed: 5))
    }
  }

  func testEmbeddingWithMaskIntoRecurrentLayers() throws {
    let (input, x) = ids()
    try check(
      [embedding(9, 3), LSTM(3, returnSequences: true), GRU(2), Dense(1)], input: input, x: x,
      targets: testTensor([4, 1], seed: 5))
    let (i2, x2) = ids()
    try check(
      [embedding(9, 4), SimpleRNN(3, goBackwards: true), Dense(2)], input: i2, x: x2,
      targets: testTensor([4, 2], seed: 5))
  }

  /// An Embedding 20 wide on two threads: its gradient's columns split as blocks of 8 (one
  /// thread 8 columns, the other 12, a partial block among them), repeated ids included.
  func testEmbeddingGradientSplitAcrossThreads() throws {
    let before = BLAS.threads
    BLAS.setThreads(2)
    defer { BLAS.setThreads(before) }
    let (input, x) = ids()
    try check(
      [embedding(9, 20), GlobalAveragePooling1D(), Dense(2)], input: input, x: x,
      targets: testTensor([4, 2], seed: 5))
  }

  /// Units in multiples of 8 take the cells' vectorised backward.
  func testEightUnitsAtATime() throws {
    let (input, x) = sequences()
    try check(
      [
        LSTM(8, returnSequences: true, recurrentDropout: 0.3), GRU(8, returnSequences: true),
        SimpleRNN(8), Dense(2),
      ],
      input: input, x: x, targets: testTensor([4, 2], seed: 5))
    var s = RecurrentSettings()
    (s.returnSequences, s.activation) = (true, .elu)
    let (i2, x2) = sequences()
    try check(
      [GRU(16, settings: s, resetAfter: false), LSTM(8, goBackwards: true), Dense(2)], input: i2,
      x: x2,
      targets: testTensor([4, 2], seed: 6))
    let (i3, x3) = ids()
    try check(
      [
        embedding(9, 3), Bidirectional(LSTM(8, returnSequences: true)), Bidirectional(GRU(8)),
        Dense(1),
      ], input: i3,
      x: x3, targets: testTensor([4, 1], seed: 5))
  }

  func testBidirectionalEveryMergeMode() throws {
    for mode in Bidirectional.MergeMode.allCases {
      let (input, x) = sequences()
      try check(
        [
          Bidirectional(LSTM(3, returnSequences: true), mergeMode: mode),
          Bidirectional(GRU(2), mergeMode: mode), Dense(2),
        ],
        input: input, x: x, targets: testTensor([4, 2], seed: 5))
    }
  }

  func testBidirectionalWithMaskAndState() throws {
    let (input, x) = ids()
    try check(
      [
        embedding(9, 3), Bidirectional(GRU(3, returnSequences: true)),
        Bidirectional(LSTM(2, returnState: true)), Dense(1),
      ],
      input: input, x: x, targets: testTensor([4, 1], seed: 5))
  }
}
