import DLP

/// The book's models by name, with their compile settings and how their data is prepared.
public struct Preset: Sendable {
  public let name: String
  public let summary: String
  /// The model for a per-sample input of `inputShape` (the preset may fix it).
  public let build: @Sendable (_ seed: UInt64) throws -> Model
  public let optimizer: String
  public let loss: String
  public let metrics: [String]
  /// Feature-wise normalisation fitted on the training data (Boston Housing).
  public let normalize: Bool
  public let defaultDataset: String
  public let defaultEpochs: Int
  public let defaultBatchSize: Int
  /// Sequence models: the steps of a sample when `--sequence-length` is not given (the book's
  /// maxlen, or its timeseries window), and the model for another length.
  public var sequenceLength: Int? = nil
  public var buildForLength: (@Sendable (_ seed: UInt64, _ length: Int) throws -> Model)? = nil
  /// A timeseries preset: how its CSV becomes windows unless the flags say otherwise.
  public var timeseries: TimeseriesOptions? = nil

  public static let all: [Preset] = [
    mnistMLP, imdbMLP, reutersMLP, bostonMLP, mnistConvnet, imdbLSTM, imdbGRUBidirectional, imdbConv1D, timeseriesGRU,
  ]

  public static func named(_ name: String) throws -> Preset {
    guard let p = all.first(where: { $0.name == name }) else {
      throw DLPError.config("unknown preset '\(name)'; expected one of \(all.map(\.name).joined(separator: ", "))")
    }
    return p
  }

  /// Chollet ch. 2: 784-512 relu-10 softmax.
  static let mnistMLP = Preset(
    name: "mnist-mlp", summary: "784-512 relu-10 softmax, rmsprop, sparse_categorical_crossentropy",
    build: { seed in
      try Sequential([InputLayer(shape: [784]), Dense(512, activation: .relu), Dense(10, activation: .softmax)], seed: seed)
    }, optimizer: "rmsprop", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"], normalize: false,
    defaultDataset: "fashion_mnist", defaultEpochs: 5, defaultBatchSize: 128)

  /// Chollet ch. 4: IMDB reviews, 10000 multi-hot -> 16 relu -> 16 relu -> 1 sigmoid.
  static let imdbMLP = Preset(
    name: "imdb-mlp", summary: "10000-16 relu-16 relu-1 sigmoid, rmsprop, binary_crossentropy",
    build: { seed in
      try Sequential(
        [InputLayer(shape: [10000]), Dense(16, activation: .relu), Dense(16, activation: .relu), Dense(1, activation: .sigmoid)],
        seed: seed)
    }, optimizer: "rmsprop", loss: "binary_crossentropy", metrics: ["accuracy"], normalize: false,
    defaultDataset: "imdb", defaultEpochs: 4, defaultBatchSize: 512)

  /// Chollet ch. 4: Reuters newswires, 10000 multi-hot -> 64 -> 64 -> 46 softmax.
  static let reutersMLP = Preset(
    name: "reuters-mlp", summary: "10000-64 relu-64 relu-46 softmax, rmsprop, categorical_crossentropy",
    build: { seed in
      try Sequential(
        [InputLayer(shape: [10000]), Dense(64, activation: .relu), Dense(64, activation: .relu), Dense(46, activation: .softmax)],
        seed: seed)
    }, optimizer: "rmsprop", loss: "categorical_crossentropy", metrics: ["accuracy"], normalize: false,
    defaultDataset: "reuters", defaultEpochs: 9, defaultBatchSize: 512)

  /// Chollet ch. 4: Boston Housing regression, 13 -> 64 -> 64 -> 1, mse, mae.
  static let bostonMLP = Preset(
    name: "boston-mlp", summary: "13-64 relu-64 relu-1, rmsprop, mse, mae",
    build: { seed in
      try Sequential(
        [InputLayer(shape: [13]), Dense(64, activation: .relu), Dense(64, activation: .relu), Dense(1)], seed: seed)
    }, optimizer: "rmsprop", loss: "mse", metrics: ["mae"], normalize: true,
    defaultDataset: "boston_housing", defaultEpochs: 100, defaultBatchSize: 16)

  /// Chollet ch. 8: the small convnet, on (28, 28, 1) images.
  static let mnistConvnet = Preset(
    name: "mnist-convnet",
    summary: "conv 32-pool-conv 64-pool-conv 64-flatten-64 relu-10 softmax, rmsprop, sparse_categorical_crossentropy",
    build: { seed in
      try Sequential(
        [
          InputLayer(shape: [28, 28, 1]),
          Conv2D(32, kernelSize: 3, activation: .relu), MaxPooling2D(2),
          Conv2D(64, kernelSize: 3, activation: .relu), MaxPooling2D(2),
          Conv2D(64, kernelSize: 3, activation: .relu), Flatten(),
          Dense(64, activation: .relu), Dense(10, activation: .softmax),
        ], seed: seed)
    }, optimizer: "rmsprop", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"], normalize: false,
    defaultDataset: "fashion_mnist", defaultEpochs: 3, defaultBatchSize: 64)
}
