import DLP

/// The book's sequence models (DLwP chapters on text and timeseries), with the sizes of the
/// benchmark: Embedding(10000, 32) over sequences of 200 ids, batch 128.
extension Preset {
  /// A sequence preset: `layers(length)` after an int32 input of `length` ids (or float steps).
  static func sequence(
    name: String, summary: String, length: Int, features: Int? = nil, optimizer: String,
    loss: String,
    metrics: [String], dataset: String, epochs: Int, batchSize: Int,
    layers: @escaping @Sendable () throws -> [Layer]
  ) -> Preset {
    let build: @Sendable (UInt64, Int) throws -> Model = { seed, steps in
      let input =
        features.map { InputLayer(shape: [steps, $0]) } ?? InputLayer(shape: [steps], dtype: .int32)
      return try Sequential([input] + layers(), seed: seed)
    }
    var p = Preset(
      name: name, summary: summary, build: { seed in try build(seed, length) },
      optimizer: optimizer, loss: loss,
      metrics: metrics, normalize: false, defaultDataset: dataset, defaultEpochs: epochs,
      defaultBatchSize: batchSize)
    p.sequenceLength = length
    p.buildForLength = build
    return p
  }

  /// Chollet 1st ed. 6.2 (the benchmark's sizes): Embedding(10000, 32) -> LSTM(32) -> 1 sigmoid.
  static let imdbLSTM = sequence(
    name: "imdb-lstm",
    summary: "Embedding(10000, 32)-LSTM(32)-1 sigmoid over 200 ids, rmsprop, binary_crossentropy",
    length: 200, optimizer: "rmsprop", loss: "binary_crossentropy", metrics: ["accuracy"],
    dataset: "imdb", epochs: 10,
    batchSize: 128
  ) { [try Embedding(10000, 32), try LSTM(32), try Dense(1, activation: .sigmoid)] }

  /// Chollet 2nd ed. 11.3 (masked embedding, bidirectional RNN, dropout) with a GRU of 32.
  static let imdbGRUBidirectional = sequence(
    name: "imdb-gru-bidirectional",
    summary:
      "Embedding(10000, 32, mask_zero)-Bidirectional(GRU(32))-Dropout(0.5)-1 sigmoid, rmsprop, binary_crossentropy",
    length: 200, optimizer: "rmsprop", loss: "binary_crossentropy", metrics: ["accuracy"],
    dataset: "imdb", epochs: 10,
    batchSize: 128
  ) {
    [
      try Embedding(10000, 32, maskZero: true), try Bidirectional(GRU(32)), try Dropout(0.5),
      try Dense(1, activation: .sigmoid),
    ]
  }

  /// Chollet 1st ed. 6.4: the 1D convnet on IMDB.
  static let imdbConv1D = sequence(
    name: "imdb-conv1d",
    summary:
      "Embedding(10000, 32)-Conv1D(32, 7)-MaxPooling1D(5)-Conv1D(32, 7)-GlobalMaxPooling1D-1 sigmoid, rmsprop",
    length: 200, optimizer: "rmsprop", loss: "binary_crossentropy", metrics: ["accuracy"],
    dataset: "imdb", epochs: 10,
    batchSize: 128
  ) {
    [
      try Embedding(10000, 32), try Conv1D(32, kernelSize: 7, activation: .relu),
      try MaxPooling1D(5),
      try Conv1D(32, kernelSize: 7, activation: .relu), GlobalMaxPooling1D(),
      try Dense(1, activation: .sigmoid),
    ]
  }

  /// Chollet 2nd ed. 10.4: temperature forecasting on the Jena climate CSV (14 features), 120
  /// steps of one hour, a GRU with recurrent dropout, mse, mae.
  static let timeseriesGRU: Preset = {
    var p = timeseriesGRUModel
    p.timeseries = TimeseriesOptions(target: "T (degC)", sequenceLength: 120, samplingRate: 6)
    return p
  }()

  static let timeseriesGRUModel = sequence(
    name: "timeseries-gru",
    summary: "(120, 14) windows-GRU(32, recurrent_dropout 0.25)-Dropout(0.5)-1, rmsprop, mse, mae",
    length: 120, features: 14, optimizer: "rmsprop", loss: "mse", metrics: ["mae"],
    dataset: "jena_climate_2009_2016.csv", epochs: 10, batchSize: 256
  ) { [try GRU(32, recurrentDropout: 0.25), try Dropout(0.5), try Dense(1)] }
}
