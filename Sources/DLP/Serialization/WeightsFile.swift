import Foundation

/// Model weights as `.npz`: one float32 array per weight named `LAYER/WEIGHT` with Keras's
/// shapes (what `--save-weights` writes and `--load-weights` reads; numpy opens it); a path
/// ending in `.h5` is Keras's own `.weights.h5` (`KerasWeightsFile`), and `.keras` (read only)
/// takes the weights out of a Keras model file.
public enum WeightsFile {
  /// Whether `path` names a Keras HDF5 weights file rather than an npz.
  static func isKerasH5(_ path: String) -> Bool { path.hasSuffix(".h5") }

  public static func save(_ model: Model, to path: String) throws {
    if isKerasH5(path) { return try KerasWeightsFile.save(model, to: path) }
    if path.hasSuffix(".keras") {
      throw DLPError.config("\(path): weights go to .npz or .weights.h5; a whole .keras model is written by --save-model")
    }
    var writer = NPZWriter()
    for (name, value) in model.namedWeights() { try writer.add(name, value) }
    try writer.write(to: URL(fileURLWithPath: path))
  }

  public static func read(_ path: String) throws -> [String: Tensor] {
    let archive = try NPZArchive(contentsOf: URL(fileURLWithPath: path))
    var out: [String: Tensor] = [:]
    for name in archive.arrayNames { out[name] = try archive.array(name).tensor() }
    return out
  }

  public static func load(_ model: Model, from path: String) throws {
    if isKerasH5(path) { return try KerasWeightsFile.load(model, path: path) }
    if path.hasSuffix(".keras") {
      return try KerasWeightsFile.load(model, from: KerasArchive.contents(path: path).weights, optimizer: false)
    }
    try model.loadNamedWeights(read(path), source: path)
  }
}

/// Writes a JSON document atomically (temp file + rename).
public func writeJSONAtomically(_ value: JSONValue, to path: String) throws {
  try FileIO.writeAtomically(Data((value.serialized(pretty: true) + "\n").utf8), to: URL(fileURLWithPath: path))
}
