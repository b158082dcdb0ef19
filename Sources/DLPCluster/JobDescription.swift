import DLP
import DLPTransport
import Foundation

/// What a worker needs besides the model to reproduce the coordinator's data and training
/// settings exactly. Travels as JSON in `JobSpecMessage.fitJSON`.
public struct JobDescription: Codable, Sendable, Equatable {
  public var dataset: String
  public var samples: Int?
  public var numWords: Int
  public var targetColumn: String?
  /// Feature-wise normalisation fitted on the training split (Boston Housing's preset).
  public var normalize: Bool
  public var validationSplit: Double
  public var batchSize: Int
  public var seed: UInt64
  /// "central" or "ring".
  public var collective: String
  /// Ports on the coordinator's host: the central collective's ROUTER (0 for ring) and the
  /// heartbeat ROUTER. Workers combine them with the host they connected to.
  public var centralPort: Int
  public var heartbeatPort: Int
  /// Seconds of peer silence after which a collective gives up.
  public var collectiveTimeout: Double
  /// The ring's reduce-scatter and all-gather go through shared memory (`SharedMemoryAllReduce`):
  /// the coordinator sets it when every worker runs on its host (`HostIdentity`).
  public var sharedMemory: Bool = false
  /// Load no test split (a K-fold sweep without `--final`).
  public var skipTest: Bool = false
  /// How an image-folder dataset is decoded (--image-size, --color-mode, --label-mode, the seed
  /// of its file order); nil for other datasets.
  public var images: ImageFolderOptions? = nil
  /// Seconds of silence after which the coordinator gives a worker up (and a worker its
  /// coordinator, after twice as long).
  public var heartbeatTimeout: Double = 10
  /// The seeds of the coordinator's model's seed generators (dropout masks), by layer: a
  /// worker's copy uses them whatever seed it was built with.
  public var generatorSeeds: [[UInt32]] = []
  /// Sequences padded to this length, or a CSV read as timeseries windows (`DatasetOptions`).
  public var sequenceLength: Int? = nil
  public var timeseries: TimeseriesOptions? = nil

  /// The collective algorithm `collective` names (checked where the job is made).
  public var algorithm: CollectiveKind { CollectiveKind(name: collective) ?? .ring }

  public init(
    dataset: String, samples: Int?, numWords: Int, targetColumn: String?, normalize: Bool, validationSplit: Double,
    batchSize: Int, seed: UInt64, collective: String, centralPort: Int = 0, heartbeatPort: Int = 0,
    collectiveTimeout: Double = 30
  ) {
    self.dataset = dataset
    self.samples = samples
    self.numWords = numWords
    self.targetColumn = targetColumn
    self.normalize = normalize
    self.validationSplit = validationSplit
    self.batchSize = batchSize
    self.seed = seed
    self.collective = collective
    self.centralPort = centralPort
    self.heartbeatPort = heartbeatPort
    self.collectiveTimeout = collectiveTimeout
  }

  public func encoded() -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys]
    return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
  }

  public static func decode(_ text: String) throws -> JobDescription {
    do {
      return try JSONDecoder().decode(JobDescription.self, from: Data(text.utf8))
    } catch {
      throw DLPError.config("malformed job description from the coordinator: \(error)")
    }
  }

  /// Loads and prepares the dataset as the coordinator did.
  public func loadData(for model: Model) throws -> PreparedData {
    var options = DatasetOptions(
      numWords: numWords, samples: samples, targetColumn: targetColumn, skipTest: skipTest,
      sequenceLength: sequenceLength, timeseries: timeseries)
    options.images = images
    let splits = try DatasetCatalog.load(dataset, options: options)
    return try PreparedData.prepare(splits, for: model, normalize: normalize)
  }
}

/// `tcp://HOST:PORT` pieces.
enum Endpoint {
  static func host(of endpoint: String) -> String? {
    guard endpoint.hasPrefix("tcp://"), let colon = endpoint.lastIndex(of: ":") else { return nil }
    return String(endpoint[endpoint.index(endpoint.startIndex, offsetBy: 6)..<colon])
  }

  static func port(of endpoint: String) -> Int? {
    guard let colon = endpoint.lastIndex(of: ":") else { return nil }
    return Int(endpoint[endpoint.index(after: colon)...])
  }

  static func tcp(_ host: String, _ port: Int) -> String { "tcp://\(host):\(port)" }
}

/// Process-wide wire settings.
public enum ClusterDefaults {
  /// How often peers say they are alive, and how long silence is tolerated (a worker is lost
  /// after `heartbeatTimeout`, a coordinator after twice that): long enough to ride out a few
  /// seconds of network trouble.
  public static let heartbeatInterval = 0.5
  public static let heartbeatTimeout = 10.0
  /// Seconds of peer silence after which a collective gives up and the generation re-forms.
  public static let collectiveTimeout = 30.0
  /// Bytes of a dataset array per DataShipment message, for --ship-data.
  static let shipmentChunkBytes = 4 << 20
}

extension JobDescription {
  /// Checks every value a worker is about to use from the coordinator's job description
  /// (`JobSpecMessage.fitJSON`), so a hostile or broken coordinator gets a clear error from
  /// the worker instead of a trap (a batch whose buffers overflow, a timeout of NaN, a port
  /// out of range).
  public func validate() throws {
    func bad(_ what: String) -> DLPError { .config("the coordinator's job description has \(what)") }
    guard batchSize >= 1, batchSize <= ShapeLimits.maxElements else {
      throw bad("batch_size \(batchSize) (expected 1...\(ShapeLimits.maxElements))")
    }
    guard collectiveTimeout.isFinite, collectiveTimeout > 0, collectiveTimeout <= 86_400 else {
      throw bad("a collective timeout of \(collectiveTimeout) s (expected more than 0, at most a day)")
    }
    for (name, port) in [("central", centralPort), ("heartbeat", heartbeatPort)] where !(0...65_535).contains(port) {
      throw bad("\(name) port \(port) (expected 0...65535)")
    }
    guard validationSplit.isFinite, (0..<1).contains(validationSplit) else {
      throw bad("validation_split \(validationSplit) (expected [0, 1))")
    }
    if let n = samples, n < 0 { throw bad("samples \(n) (expected >= 0)") }
    guard numWords >= 0 else { throw bad("num_words \(numWords) (expected >= 0)") }
    guard ["central", "ring"].contains(collective) else { throw bad("collective '\(collective.prefix(64))' (expected central or ring)") }
    guard dataset.utf8.count <= 4096, (targetColumn?.utf8.count ?? 0) <= 4096 else { throw bad("a dataset name over 4096 bytes") }
  }
}
