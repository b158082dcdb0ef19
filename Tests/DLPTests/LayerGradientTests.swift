import XCTest

@testable import DLP

/// Finite-difference checks of every layer's and activation's backward.
final class LayerGradientTests: XCTestCase {
  func check(_ layers: [Layer], input: [Int], loss: any Loss, targets: Tensor, batch: Int = 4, file: StaticString = #filePath, line: UInt = #line) throws {
    let model = try Sequential([InputLayer(shape: input)] + layers, seed: 3)
    try model.compile(optimizer: SGD(), losses: [loss])
    let data = try ArrayData(x: testTensor([batch] + input, seed: 11), y: targets)
    GradientChecker(model: model, data: data).run(file: file, line: line)
  }

  func testDenseWithEveryActivation() throws {
    for a in Activation.allCases {
      // A hidden Dense with activation `a`, then a linear head so `a` is not fused into the loss.
      try check(
        [Dense(5, activation: a), Dense(3)], input: [4], loss: MeanSquaredError(),
        targets: testTensor([4, 3], seed: 5))
    }
  }

  func testDenseWithoutBiasOnRank3Input() throws {
    try check([Dense(3, activation: .tanh, useBias: false), Flatten(), Dense(2)], input: [2, 4], loss: MeanSquaredError(), targets: testTensor([4, 2], seed: 5))
  }

  func testActivationLayerAndFlatten() throws {
    for a in Activation.allCases {
      try check([Flatten(), Dense(4), ActivationLayer(a), Dense(2)], input: [2, 3], loss: MeanSquaredError(), targets: testTensor([4, 2], seed: 9))
    }
  }

  func testDropoutInTraining() throws {
    try check([Dense(6, activation: .tanh), Dropout(0.5), Dense(2)], input: [3], loss: MeanSquaredError(), targets: testTensor([4, 2], seed: 1))
  }

  func testFusedSoftmaxCrossEntropy() throws {
    try check([Dense(5, activation: .tanh), Dense(4, activation: .softmax)], input: [3], loss: SparseCategoricalCrossentropy(), targets: labels(4, classes: 4, seed: 2))
    let onehot = try toCategorical(labels: labels(4, classes: 4, seed: 2), numClasses: 4)
    try check([Dense(5, activation: .tanh), Dense(4, activation: .softmax)], input: [3], loss: CategoricalCrossentropy(), targets: onehot)
  }

  func testFusedSigmoidBinaryCrossEntropy() throws {
    try check([Dense(5, activation: .relu), Dense(1, activation: .sigmoid)], input: [3], loss: BinaryCrossentropy(), targets: labels(4, classes: 2, seed: 4))
  }

  func testRegularizers() throws {
    for r in [Regularizer.l1(0.01), .l2(0.02), .l1l2(l1: 0.01, l2: 0.03)] {
      try check(
        [Dense(4, activation: .tanh, kernelRegularizer: r, biasRegularizer: r), Dense(2, kernelRegularizer: r)], input: [3],
        loss: MeanSquaredError(), targets: testTensor([4, 2], seed: 8))
    }
  }

  func testFusionHappensOnlyForMatchingActivation() throws {
    let m = try Sequential([InputLayer(shape: [3]), Dense(2, activation: .softmax)])
    try m.compile(optimizer: SGD(), losses: [SparseCategoricalCrossentropy()])
    XCTAssertTrue(m.compiled!.heads[0].fused)
    try m.compile(optimizer: SGD(), losses: [MeanSquaredError()])
    XCTAssertFalse(m.compiled!.heads[0].fused)
  }
}
