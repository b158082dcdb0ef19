/// Checks of the values in received messages that decoding alone cannot judge: ranks inside
/// the world, world sizes, endpoint lists, shard bounds. A process calls them before it uses a
/// message from a peer it cannot fully trust (a worker on the coordinator's JobSpec, Welcome,
/// StepCommand and TaskAssignment), so a hostile or broken peer gets a clear error
/// (`TransportError.malformed`) instead of a division by zero or an index out of range.
public enum MessageLimits {
  /// The largest world a job may have (ranks are Int32 on the wire; rings and shard tables are
  /// sized by it).
  public static let maxWorldSize: Int32 = 4096
  /// The longest endpoint accepted (`tcp://` + a DNS name of at most 253 + `:65535`, with room).
  public static let maxEndpointBytes = 1024
  /// Fused gradient buckets: at least one float, at most 1 GiB.
  public static let maxBucketBytes: UInt64 = 1 << 30
  /// The largest optimizer step count (Keras's `iterations`) a peer may announce: far beyond
  /// any training, exact as a Double (learning-rate schedules compute with it), and far from
  /// overflowing the `Int` it becomes and is counted up in.
  public static let maxIterations: UInt64 = 1 << 53
}

extension WelcomeMessage {
  /// `rank` is in `0..<worldSize` and `worldSize` in `1...MessageLimits.maxWorldSize`.
  public func validate(peer: Int? = nil) throws {
    try checkRank(rank, worldSize: worldSize, in: "Welcome", peer: peer)
  }
}

extension JobSpecMessage {
  /// Rank and world size as for `WelcomeMessage`; ring endpoints: one per rank (or none, for
  /// the central collective and K-fold sweeps), each a tcp/ipc/inproc endpoint of sane length;
  /// bucket size positive and at most 1 GiB; a model document present.
  public func validate(peer: Int? = nil) throws {
    try checkRank(rank, worldSize: worldSize, in: "JobSpec", peer: peer)
    guard peerEndpoints.isEmpty || peerEndpoints.count == Int(worldSize) else {
      throw TransportError.malformed(
        peer: peer,
        "JobSpec lists \(peerEndpoints.count) ring endpoints for a world of \(worldSize) (expected one per rank, or none)"
      )
    }
    for (i, e) in peerEndpoints.enumerated() {
      try checkEndpoint(e, "JobSpec endpoint of rank \(i)", peer: peer)
    }
    guard bucketBytes == 0 || (bucketBytes >= 4 && bucketBytes <= MessageLimits.maxBucketBytes) else {
      throw TransportError.malformed(
        peer: peer,
        "JobSpec bucket_bytes \(bucketBytes) (expected 0, or 4...\(MessageLimits.maxBucketBytes))")
    }
    guard !modelJSON.isEmpty else {
      throw TransportError.malformed(peer: peer, "JobSpec carries no model")
    }
  }
}

extension TaskAssignmentMessage {
  /// The group rank is inside the group and the group's endpoints are sane.
  public func validate(peer: Int? = nil) throws {
    guard peerEndpoints.count <= Int(MessageLimits.maxWorldSize) else {
      throw TransportError.malformed(
        peer: peer,
        "TaskAssignment for a group of \(peerEndpoints.count) (at most \(MessageLimits.maxWorldSize))"
      )
    }
    try checkRank(groupRank, worldSize: Int32(groupSize), in: "TaskAssignment", peer: peer)
    for (i, e) in peerEndpoints.enumerated() {
      try checkEndpoint(e, "TaskAssignment endpoint of group rank \(i)", peer: peer)
    }
    guard peerStreamEndpoints.isEmpty || (groupSize > 1 && peerStreamEndpoints.count == peerEndpoints.count) else {
      throw TransportError.malformed(
        peer: peer, "TaskAssignment lists \(peerStreamEndpoints.count) stream endpoints for a group of \(groupSize)")
    }
    for (i, e) in peerStreamEndpoints.enumerated() {
      try checkEndpoint(e, "TaskAssignment stream endpoint of group rank \(i)", peer: peer)
      guard e.hasPrefix("tcp://") else {
        throw TransportError.malformed(peer: peer, "TaskAssignment stream endpoint of group rank \(i) is not tcp://HOST:PORT")
      }
    }
  }
}

extension StepCommandMessage {
  /// The shard lies inside the global batch, lists exactly `shardCount` rows, and every row is
  /// below `rows` (the size of the data the command is about: training rows for `.train`).
  public func validate(rows: Int, peer: Int? = nil) throws {
    guard globalBatchSize >= 1 else {
      throw TransportError.malformed(peer: peer, "StepCommand with a global batch of 0")
    }
    guard UInt64(shardStart) + UInt64(shardCount) <= UInt64(globalBatchSize) else {
      throw TransportError.malformed(
        peer: peer,
        "StepCommand shard \(shardStart)..<\(UInt64(shardStart) + UInt64(shardCount)) lies outside its batch of \(globalBatchSize)"
      )
    }
    guard sampleIndices.count == Int(shardCount) else {
      throw TransportError.malformed(
        peer: peer, "StepCommand lists \(sampleIndices.count) rows for a shard of \(shardCount)")
    }
    if let bad = sampleIndices.first(where: { Int($0) >= rows }) {
      throw TransportError.malformed(
        peer: peer, "StepCommand names row \(bad) of data with \(rows) rows")
    }
  }
}

private func checkRank(_ rank: Int32, worldSize: Int32, in kind: String, peer: Int?) throws {
  guard worldSize >= 1, worldSize <= MessageLimits.maxWorldSize else {
    throw TransportError.malformed(
      peer: peer, "\(kind) has world_size \(worldSize) (expected 1...\(MessageLimits.maxWorldSize))"
    )
  }
  guard rank >= 0, rank < worldSize else {
    throw TransportError.malformed(
      peer: peer,
      "\(kind) gives rank \(rank) in a world of \(worldSize) (expected 0..<\(worldSize))")
  }
}

func checkEndpoint(_ e: String, _ what: String, peer: Int?) throws {
  if e.isEmpty { return }  // a peer without a listener (Hello's "none")
  guard e.utf8.count <= MessageLimits.maxEndpointBytes,
    e.hasPrefix("tcp://") || e.hasPrefix("ipc://") || e.hasPrefix("inproc://")
  else {
    throw TransportError.malformed(
      peer: peer, "\(what) is not a ZeroMQ endpoint: '\(e.prefix(80))'")
  }
}
