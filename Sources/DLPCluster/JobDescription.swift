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
    let splits = try DatasetCatalog.load(
      dataset,
      options: DatasetOptions(
        numWords: numWords, samples: samples, targetColumn: targetColumn, skipTest: skipTest,
        sequenceLength: sequenceLength, timeseries: timeseries))
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
enum ClusterDefaults {
  /// Bytes of a dataset array per DataShipment message, for --ship-data.
  static let shipmentChunkBytes = 4 << 20
}
