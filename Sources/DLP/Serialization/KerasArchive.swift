import Foundation

/// Keras 3's `.keras` file (`model.save("m.keras")`, `keras.saving.load_model`): a zip of three
/// stored entries, `metadata.json` (`keras_version`, `date_saved`), `config.json` (the model's
/// serialised config with its `compile_config`, what `model.to_json()` gives) and
/// `model.weights.h5` (`KerasWeightsFile`).
public enum KerasArchive {
  static let config = "config.json"
  static let metadata = "metadata.json"
  static let weights = "model.weights.h5"
  /// The Keras release whose format this is; written as `keras_version`, as Keras writes its own.
  static let kerasVersion = "3.15.1"

  /// What a `.keras` file holds: its model config (given unchanged to the model builder, nested
  /// models included) and its weights file.
  public struct Contents {
    public let config: JSONValue
    public let weights: HDF5File
    public let source: String
  }

  public static func contents(path: String) throws -> Contents {
    let zip = try ZipArchive(contentsOf: URL(fileURLWithPath: path))
    let config = try JSONValue.parse(Data(zip.data(named: Self.config)), source: "\(path)[\(Self.config)]")
    guard zip.entry(named: weights) != nil else {
      let npz = zip.entry(named: "model.weights.npz") != nil
      throw DLPError.data(
        "\(path): no \(weights)\(npz ? " (its weights are model.weights.npz, Keras's weights_format=\"npz\", which DLP does not read)" : "")"
      )
    }
    let h5 = try HDF5File.read(bytes: zip.data(named: weights), source: "\(path)[\(weights)]")
    return Contents(config: config, weights: h5, source: path)
  }

  /// Builds the model of a `.keras` file with its weights; its compile config is returned for
  /// the caller to compile with (then `loadOptimizerState` restores the optimizer's state).
  public static func read(path: String, seed: UInt64 = 0) throws -> (Model, KerasCompileConfig?, Contents) {
    let contents = try contents(path: path)
    let (model, compile) = try KerasModelReader.read(contents.config, seed: seed)
    try KerasWeightsFile.load(model, from: contents.weights, optimizer: false)
    return (model, compile, contents)
  }

  /// Restores the optimizer's state saved in `contents` into the compiled model's optimizer
  /// (when its structure matches, as Keras does; returns whether it did).
  @discardableResult
  public static func loadOptimizerState(_ model: Model, from contents: Contents) throws -> Bool {
    guard let c = model.compiled, let vars = try contents.weights.root().group("optimizer")?.group("vars") else {
      return false
    }
    return try KerasWeightsFile.loadOptimizer(c.optimizer, model: model, from: vars)
  }

  /// The archive's bytes.
  public static func bytes(_ model: Model, includeOptimizer: Bool = true, date: Date = Date()) throws -> [UInt8] {
    let formatter = DateFormatter()
    formatter.locale = Locale(identifier: "en_US_POSIX")
    formatter.dateFormat = "yyyy-MM-dd@HH:mm:ss"
    let meta: JSONValue = ["keras_version": .string(kerasVersion), "date_saved": .string(formatter.string(from: date))]
    var zip = ZipWriter()
    try zip.add(entry: metadata, bytes: Array(meta.serialized().utf8))
    try zip.add(entry: config, bytes: Array(KerasModelWriter.json(model).serialized().utf8))
    try zip.add(entry: weights, bytes: KerasWeightsFile.bytes(model, includeOptimizer: includeOptimizer))
    return try zip.archiveBytes()
  }

  /// Writes `PATH.keras` atomically.
  public static func save(_ model: Model, to path: String, includeOptimizer: Bool = true) throws {
    try FileIO.writeAtomically(bytes(model, includeOptimizer: includeOptimizer), to: URL(fileURLWithPath: path))
  }
}
