import DLPProto

/// Coordinator -> worker: everything a worker needs to build its model and join the collective.
public struct JobSpecMessage: WireMessage {
  public static let kind = MessageKind.jobSpec
  public var jobID: UInt64
  /// The Keras model config (`model.to_json()`).
  public var modelJSON: String
  /// Optimizer, loss and metrics.
  public var compileJSON: String
  /// Epochs, batch size, validation settings.
  public var fitJSON: String
  public var datasetName: String
  public var datasetPath: String
  /// The dataset arrives as `DataShipmentMessage`s instead of being loaded by the worker.
  public var shipData: Bool
  /// The content hash the worker's dataset must have (0: not checked).
  public var datasetHash: UInt64
  public var seed: UInt64
  public var rank: Int32
  public var worldSize: Int32
  /// Ring endpoints indexed by rank (empty for the central collective).
  public var peerEndpoints: [String]
  public var collective: CollectiveKind
  /// Gradient bucket size for fused all-reduces.
  public var bucketBytes: UInt64

  public init(
    jobID: UInt64, modelJSON: String = "", compileJSON: String = "", fitJSON: String = "",
    datasetName: String = "", datasetPath: String = "", shipData: Bool = false,
    datasetHash: UInt64 = 0,
    seed: UInt64 = 0, rank: Int32 = 0, worldSize: Int32 = 1, peerEndpoints: [String] = [],
    collective: CollectiveKind = .ring, bucketBytes: UInt64 = 25 << 20
  ) {
    self.jobID = jobID
    self.modelJSON = modelJSON
    self.compileJSON = compileJSON
    self.fitJSON = fitJSON
    self.datasetName = datasetName
    self.datasetPath = datasetPath
    self.shipData = shipData
    self.datasetHash = datasetHash
    self.seed = seed
    self.rank = rank
    self.worldSize = worldSize
    self.peerEndpoints = peerEndpoints
    self.collective = collective
    self.bucketBytes = bucketBytes
  }

  public var message: Message { .jobSpec(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__JobSpec()
    dlp__job_spec__init(&c)
    c.job_id = jobID
    c.model_json = strings.dup(modelJSON)
    c.compile_json = strings.dup(compileJSON)
    c.fit_json = strings.dup(fitJSON)
    c.dataset_name = strings.dup(datasetName)
    c.dataset_path = strings.dup(datasetPath)
    c.ship_data = shipData ? 1 : 0
    c.dataset_hash = datasetHash
    c.seed = seed
    c.rank = rank
    c.world_size = worldSize
    c.collective = Dlp__Collective(rawValue: UInt32(collective.rawValue))
    c.bucket_bytes = bucketBytes
    c.n_peer_endpoints = peerEndpoints.count
    c.peer_endpoints = strings.array(peerEndpoints)
    packMessage(&c, into: &out, size: dlp__job_spec__get_packed_size, pack: dlp__job_spec__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "JobSpec", unpack: dlp__job_spec__unpack,
      free: dlp__job_spec__free_unpacked
    ) { p in
      let c = p.pointee
      guard let collective = CollectiveKind(rawValue: Int32(bitPattern: c.collective.rawValue))
      else {
        throw TransportError.malformed(
          peer: nil, "JobSpec names unknown collective \(c.collective.rawValue)")
      }
      return JobSpecMessage(
        jobID: c.job_id, modelJSON: swiftString(c.model_json),
        compileJSON: swiftString(c.compile_json),
        fitJSON: swiftString(c.fit_json), datasetName: swiftString(c.dataset_name),
        datasetPath: swiftString(c.dataset_path), shipData: c.ship_data != 0,
        datasetHash: c.dataset_hash,
        seed: c.seed, rank: c.rank, worldSize: c.world_size,
        peerEndpoints: swiftArray(c.peer_endpoints, c.n_peer_endpoints).map(swiftString),
        collective: collective, bucketBytes: c.bucket_bytes)
    }
  }
}
