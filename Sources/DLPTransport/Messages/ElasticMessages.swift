import DLPProto

/// Coordinator -> worker: abandon the current collective and get ready for `generation`
/// (answer with `RegroupReadyMessage`).
public struct RegroupMessage: WireMessage {
  public static let kind = MessageKind.regroup
  public var generation: UInt64
  /// Every member's CURVE public key (Z85), when the job is secured.
  public var peerKeys: [String]

  public init(generation: UInt64, peerKeys: [String] = []) {
    self.generation = generation
    self.peerKeys = peerKeys
  }

  public var message: Message { .regroup(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__Regroup()
    dlp__regroup__init(&c)
    c.generation = generation
    c.n_peer_keys = peerKeys.count
    c.peer_keys = strings.array(peerKeys)
    packMessage(&c, into: &out, size: dlp__regroup__get_packed_size, pack: dlp__regroup__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Regroup", unpack: dlp__regroup__unpack,
      free: dlp__regroup__free_unpacked
    ) { p in
      RegroupMessage(
        generation: p.pointee.generation, peerKeys: swiftArray(p.pointee.peer_keys, p.pointee.n_peer_keys).map(swiftString))
    }
  }
}

/// Worker -> coordinator: ready for `generation`, with a fresh collective listener.
public struct RegroupReadyMessage: WireMessage {
  public static let kind = MessageKind.regroupReady
  public var generation: UInt64
  public var ringEndpoint: String
  public var hostIdentity: String
  /// Where the worker accepts its ring predecessor's plain tcp stream (unsecured jobs); empty
  /// when it has no stream listener.
  public var streamEndpoint: String

  public init(generation: UInt64, ringEndpoint: String, hostIdentity: String, streamEndpoint: String = "") {
    self.generation = generation
    self.ringEndpoint = ringEndpoint
    self.hostIdentity = hostIdentity
    self.streamEndpoint = streamEndpoint
  }

  public var message: Message { .regroupReady(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__RegroupReady()
    dlp__regroup_ready__init(&c)
    c.generation = generation
    c.ring_endpoint = strings.dup(ringEndpoint)
    c.host_identity = strings.dup(hostIdentity)
    c.stream_endpoint = strings.dup(streamEndpoint)
    packMessage(
      &c, into: &out, size: dlp__regroup_ready__get_packed_size, pack: dlp__regroup_ready__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "RegroupReady", unpack: dlp__regroup_ready__unpack,
      free: dlp__regroup_ready__free_unpacked
    ) { p in
      RegroupReadyMessage(
        generation: p.pointee.generation, ringEndpoint: swiftString(p.pointee.ring_endpoint),
        hostIdentity: swiftString(p.pointee.host_identity),
        streamEndpoint: swiftString(p.pointee.stream_endpoint))
    }
  }
}

/// Coordinator -> worker: the collective of `generation` (this worker's rank, its peers) and
/// the model state it continues from, which follows as `WeightChunkMessage`s (tensor 0: all
/// `parameterCount` weights; tensor 1 + k: the worker's owned part of optimizer slot k).
public struct ReconfigureMessage: WireMessage {
  public static let kind = MessageKind.reconfigure
  public var generation: UInt64
  public var rank: Int32
  public var worldSize: Int32
  public var peerEndpoints: [String]
  public var sharedMemory: Bool
  public var centralPort: UInt32
  public var iterations: UInt64
  public var parameterCount: UInt64
  public var slotCount: UInt32
  public var learningRate: Double
  /// Each member's CURVE public key (Z85) by rank, when the job is secured: a member admits
  /// its ring predecessor and connects to its successor's listener with them.
  public var peerKeys: [String]
  /// Each member's stream listener by rank when the ring over tcp runs on plain streams
  /// (`StreamRing`); empty: it runs over ZeroMQ at `peerEndpoints`.
  public var peerStreamEndpoints: [String]

  public init(
    generation: UInt64, rank: Int32, worldSize: Int32, peerEndpoints: [String] = [],
    sharedMemory: Bool = false, centralPort: UInt32 = 0, iterations: UInt64 = 0,
    parameterCount: UInt64 = 0, slotCount: UInt32 = 0, learningRate: Double = 0, peerKeys: [String] = [],
    peerStreamEndpoints: [String] = []
  ) {
    self.peerKeys = peerKeys
    self.peerStreamEndpoints = peerStreamEndpoints
    self.generation = generation
    self.rank = rank
    self.worldSize = worldSize
    self.peerEndpoints = peerEndpoints
    self.sharedMemory = sharedMemory
    self.centralPort = centralPort
    self.iterations = iterations
    self.parameterCount = parameterCount
    self.slotCount = slotCount
    self.learningRate = learningRate
  }

  public var message: Message { .reconfigure(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__Reconfigure()
    dlp__reconfigure__init(&c)
    c.generation = generation
    c.rank = rank
    c.world_size = worldSize
    c.shared_memory = sharedMemory ? 1 : 0
    c.central_port = centralPort
    c.iterations = iterations
    c.parameter_count = parameterCount
    c.slot_count = slotCount
    c.learning_rate = learningRate
    c.n_peer_endpoints = peerEndpoints.count
    c.peer_endpoints = strings.array(peerEndpoints)
    c.n_peer_keys = peerKeys.count
    c.peer_keys = strings.array(peerKeys)
    c.n_peer_stream_endpoints = peerStreamEndpoints.count
    c.peer_stream_endpoints = strings.array(peerStreamEndpoints)
    packMessage(&c, into: &out, size: dlp__reconfigure__get_packed_size, pack: dlp__reconfigure__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Reconfigure", unpack: dlp__reconfigure__unpack,
      free: dlp__reconfigure__free_unpacked
    ) { p in
      let c = p.pointee
      return ReconfigureMessage(
        generation: c.generation, rank: c.rank, worldSize: c.world_size,
        peerEndpoints: swiftArray(c.peer_endpoints, c.n_peer_endpoints).map(swiftString),
        sharedMemory: c.shared_memory != 0, centralPort: c.central_port, iterations: c.iterations,
        parameterCount: c.parameter_count, slotCount: c.slot_count, learningRate: c.learning_rate,
        peerKeys: swiftArray(c.peer_keys, c.n_peer_keys).map(swiftString),
        peerStreamEndpoints: swiftArray(c.peer_stream_endpoints, c.n_peer_stream_endpoints).map(swiftString))
    }
  }

  /// Checks what a worker would index or allocate with before it does: a rank inside the
  /// world, one endpoint per rank (ring), sizes that match the model it built.
  public func validate(parameterCount expected: Int, slotCount expectedSlots: Int, ring: Bool) throws {
    guard worldSize >= 1, worldSize <= 1 << 16, rank >= 0, rank < worldSize else {
      throw TransportError.malformed(peer: nil, "Reconfigure gives rank \(rank) of a world of \(worldSize)")
    }
    guard !ring || peerEndpoints.count == Int(worldSize) else {
      throw TransportError.malformed(
        peer: nil, "Reconfigure lists \(peerEndpoints.count) ring endpoints for \(worldSize) workers")
    }
    for (i, e) in peerEndpoints.enumerated() { try checkEndpoint(e, "Reconfigure endpoint of rank \(i)", peer: nil) }
    guard peerStreamEndpoints.isEmpty || (ring && !sharedMemory && peerStreamEndpoints.count == Int(worldSize)) else {
      throw TransportError.malformed(
        peer: nil,
        "Reconfigure lists \(peerStreamEndpoints.count) stream endpoints for \(worldSize) workers\(sharedMemory ? " of a shared-memory ring" : "")")
    }
    for (i, e) in peerStreamEndpoints.enumerated() {
      try checkEndpoint(e, "Reconfigure stream endpoint of rank \(i)", peer: nil)
      guard e.hasPrefix("tcp://") else {
        throw TransportError.malformed(peer: nil, "Reconfigure stream endpoint of rank \(i) is not tcp://HOST:PORT")
      }
    }
    guard peerKeys.isEmpty || peerKeys.count == Int(worldSize) else {
      throw TransportError.malformed(peer: nil, "Reconfigure lists \(peerKeys.count) keys for \(worldSize) workers")
    }
    guard iterations <= MessageLimits.maxIterations else {
      throw TransportError.malformed(
        peer: nil, "Reconfigure gives \(iterations) optimizer iterations (at most \(MessageLimits.maxIterations))")
    }
    guard parameterCount == UInt64(expected), slotCount == UInt32(expectedSlots) else {
      throw TransportError.malformed(
        peer: nil,
        "Reconfigure describes \(parameterCount) weights and \(slotCount) optimizer slots; this worker's model has \(expected) and \(expectedSlots)"
      )
    }
  }
}

/// Worker -> coordinator, answering a commit command: the worker's share of the model state
/// (its owned range of the weights and of each optimizer slot) follows as WeightChunks.
public struct CommitReportMessage: WireMessage {
  public static let kind = MessageKind.commitReport
  public var step: UInt64
  public var generation: UInt64
  public var iterations: UInt64
  public var ownedOffset: UInt64
  public var ownedLength: UInt64
  public var slotCount: UInt32

  public init(
    step: UInt64, generation: UInt64, iterations: UInt64, ownedOffset: UInt64, ownedLength: UInt64,
    slotCount: UInt32
  ) {
    self.step = step
    self.generation = generation
    self.iterations = iterations
    self.ownedOffset = ownedOffset
    self.ownedLength = ownedLength
    self.slotCount = slotCount
  }

  public var message: Message { .commitReport(self) }

  public func pack(into out: inout [UInt8]) {
    var c = Dlp__CommitReport()
    dlp__commit_report__init(&c)
    c.step = step
    c.generation = generation
    c.iterations = iterations
    c.owned_offset = ownedOffset
    c.owned_length = ownedLength
    c.slot_count = slotCount
    packMessage(
      &c, into: &out, size: dlp__commit_report__get_packed_size, pack: dlp__commit_report__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "CommitReport", unpack: dlp__commit_report__unpack,
      free: dlp__commit_report__free_unpacked
    ) { p in
      let c = p.pointee
      return CommitReportMessage(
        step: c.step, generation: c.generation, iterations: c.iterations,
        ownedOffset: c.owned_offset, ownedLength: c.owned_length, slotCount: c.slot_count)
    }
  }
}
