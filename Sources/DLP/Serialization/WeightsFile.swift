import Foundation

/// Model weights as `.npz`: one float32 array per weight named `LAYER/WEIGHT` with Keras's
/// shapes (what `--save-weights` writes and `--load-weights` reads; numpy opens it).
public enum WeightsFile {
  public static func save(_ model: Model, to path: String) throws {
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
    try model.loadNamedWeights(read(path), source: path)
  }
}

/// Writes a JSON document atomically (temp file + rename).
public func writeJSONAtomically(_ value: JSONValue, to path: String) throws {
  try FileIO.writeAtomically(Data((value.serialized(pretty: true) + "\n").utf8), to: URL(fileURLWithPath: path))
}
