import DLPTensor

/// How a ring cuts a buffer into the pieces it streams: each shard of the `ShardPlan` (rank q
/// owns shard q) in chunks of `chunkElements` from the shard's start. Every rank computes the
/// same grid from the buffer's length, so a chunk is named on the wire by its offset and length
/// alone, and a received (offset, length) that is not a chunk of the grid is refused.
///
/// Shared by the ring over ZeroMQ (`RingReduceScatter`) and the ring over plain sockets
/// (`StreamRing`).
struct RingChunkGrid {
  let count: Int
  let plan: ShardPlan
  let chunkElements: Int
  /// ranges[c]: the elements of chunk c; the chunks of shard q are firstChunk[q] ..<
  /// firstChunk[q + 1].
  private(set) var ranges: [Range<Int>] = []
  private(set) var firstChunk: [Int] = []

  init(count: Int, worldSize: Int, chunkElements: Int) {
    self.count = count
    self.chunkElements = chunkElements
    plan = ShardPlan(count: count, parts: worldSize)
    for q in 0..<worldSize {
      firstChunk.append(ranges.count)
      let chunks = Chunks(range: plan.range(q), size: chunkElements)
      for j in 0..<chunks.count { ranges.append(chunks[j]) }
    }
    firstChunk.append(ranges.count)
  }

  /// The indices of shard q's chunks.
  func chunks(ofShard q: Int) -> Range<Int> { firstChunk[q]..<firstChunk[q + 1] }

  /// The shard chunk `c` belongs to.
  func shard(ofChunk c: Int) -> Int { plan.part(containing: ranges[c].lowerBound) }

  /// The chunk that starts at `offset` and holds `length` elements, as a peer named it; throws
  /// (blaming `peer`) unless that is exactly a chunk of the grid.
  func chunk(offset: UInt64, length: UInt64, peer: Int) throws -> Int {
    guard offset < UInt64(count) else {
      throw TransportError.malformed(
        peer: peer, "chunk at element \(offset) of a buffer of \(count)")
    }
    let o = Int(offset)
    let q = plan.part(containing: o)
    let k = o - plan.range(q).lowerBound
    let c = firstChunk[q] + k / chunkElements
    guard k % chunkElements == 0, length == UInt64(ranges[c].count) else {
      throw TransportError.malformed(
        peer: peer,
        "chunk of \(length) elements at \(o) is not a chunk of the grid (\(chunkElements) elements per chunk from each shard's start)"
      )
    }
    return c
  }
}
