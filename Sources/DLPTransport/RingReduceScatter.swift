/// The reduce-scatter half of the ring, driven by which parts of this rank's input are ready.
///
/// The buffer is cut into a fixed grid that every rank computes alike: each shard of the
/// `ShardPlan` (rank q owns shard q) in chunks of `chunkElements` from the shard's start. A chunk
/// of shard q travels the chain q+1 -> q+2 -> ... -> q: the first rank sends its values, each
/// next rank adds its own and passes the sum on, and rank q ends with the total. So rank r
/// *originates* the chunks of shard r-1, *relays* those of the other shards but its own, and
/// *finishes* those of shard r.
///
/// A chunk leaves this rank as soon as it can: when all its elements were marked ready (and,
/// unless it originates here, when it arrived from the predecessor). Chunks may arrive in any
/// order; one that arrives before this rank's values are ready waits, as the frame ZeroMQ
/// received, until they are. Marking the input ready piece by piece (a layer's gradients as
/// backward produces them) overlaps the transfers with the computation; marking it all at once
/// is the plain reduce-scatter.
///
/// Every element is summed by the same chain of ranks in the same order whatever the pieces and
/// the timing, so results are bitwise identical to the unbucketed reduce-scatter's.
///
/// Used by `RingAllReduce` on its own thread; reusable from call to call (the grid is rebuilt
/// only when the buffer size changes).
final class RingReduceScatter {
  private let wire: ChunkWire
  private let rank: Int
  private let worldSize: Int
  private let chunkElements: Int

  /// The grid, rebuilt when the buffer's length changes.
  private var grid: RingChunkGrid

  // This call's state.
  private var buffer = UnsafeMutableBufferPointer<Float>(start: nil, count: 0)
  private var step: UInt64 = 0
  private var tensorID: UInt32 = 0
  private var gatherAfter = false
  private var sender: ZMQSocket?
  private var receiver: ZMQSocket?
  /// Elements of each chunk marked ready.
  private var readyElements: [Int] = []
  private var arrived: [Bool] = []
  /// Chunks that arrived before this rank's values were ready, as received.
  private var waiting: [ZMQMessage?] = []
  private var readied = RangeSet<Int>()
  /// Chunks still to arrive.
  private var outstanding = 0
  private let slot = ZMQMessage()
  private(set) var isActive = false

  init(wire: ChunkWire, rank: Int, worldSize: Int, chunkElements: Int) {
    self.wire = wire
    self.rank = rank
    self.worldSize = worldSize
    self.chunkElements = chunkElements
    // An empty buffer's grid (no chunks), so the per-chunk arrays below start consistent.
    grid = RingChunkGrid(count: 0, worldSize: worldSize, chunkElements: chunkElements)
  }

  private var predecessor: Int { (rank + worldSize - 1) % worldSize }
  private var originShard: Int { predecessor }

  /// The part of the buffer this rank owns when the call is done.
  var ownedRange: Range<Int> { grid.plan.range(rank) }

  /// Starts a reduce-scatter of `buffer`; nothing is ready yet. With `gatherAfter`, each chunk
  /// of our own shard goes on to the successor as an all-gather chunk as soon as it is summed
  /// (the all-reduce's all-gather starts before the reduce-scatter is over).
  func begin(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32,
    sender: ZMQSocket?, receiver: ZMQSocket?, gatherAfter: Bool
  ) {
    if buffer.count != grid.count { buildGrid(count: buffer.count) }
    self.buffer = buffer
    self.step = step
    self.tensorID = tensorID
    self.sender = sender
    self.receiver = receiver
    self.gatherAfter = gatherAfter
    for c in grid.ranges.indices {
      readyElements[c] = 0
      arrived[c] = false
      waiting[c] = nil
    }
    readied = RangeSet()
    outstanding = worldSize > 1 ? grid.ranges.count - grid.chunks(ofShard: originShard).count : 0
    isActive = true
  }

  private func buildGrid(count: Int) {
    grid = RingChunkGrid(count: count, worldSize: worldSize, chunkElements: chunkElements)
    readyElements = Array(repeating: 0, count: grid.ranges.count)
    arrived = Array(repeating: false, count: grid.ranges.count)
    waiting = Array(repeating: nil, count: grid.ranges.count)
  }

  /// `buffer[range]` holds this rank's final values: send what became sendable, then take in
  /// whatever already arrived, without waiting.
  func ready(_ range: Range<Int>) throws {
    try check(range)
    guard !range.isEmpty else { return }
    readied.insert(contentsOf: range)
    guard worldSize > 1 else { return }
    var q = grid.plan.part(containing: range.lowerBound)
    while q < worldSize, grid.plan.range(q).lowerBound < range.upperBound {
      let shard = grid.plan.range(q)
      if !shard.isEmpty {
        let lo = (Swift.max(range.lowerBound, shard.lowerBound) - shard.lowerBound) / chunkElements
        let hi =
          (Swift.min(range.upperBound, shard.upperBound) - 1 - shard.lowerBound) / chunkElements
        for c in (grid.firstChunk[q] + lo)...(grid.firstChunk[q] + hi) {
          let r = grid.ranges[c]
          readyElements[c] +=
            Swift.min(r.upperBound, range.upperBound) - Swift.max(r.lowerBound, range.lowerBound)
          if readyElements[c] == r.count { try becameReady(c, shard: q) }
        }
      }
      q += 1
    }
    try poll()
  }

  /// Throws unless `range` lies in the buffer and overlaps no range marked ready before.
  func check(_ range: Range<Int>) throws {
    guard isActive else { throw TransportError.invalidArgument("no reduce-scatter is in progress") }
    guard range.lowerBound >= 0, range.upperBound <= grid.count else {
      throw TransportError.invalidArgument(
        "ready range \(range) is outside the buffer of \(grid.count) elements")
    }
    guard range.isEmpty || readied.intersection(RangeSet(range)).isEmpty else {
      throw TransportError.invalidArgument(
        "ready range \(range) overlaps a range already marked ready")
    }
  }

  /// Marks everything not yet ready as ready and waits for every chunk still to arrive.
  func finish() throws {
    let rest = RangeSet(0..<grid.count).subtracting(readied)
    for range in rest.ranges { try ready(range) }
    while outstanding > 0 { try take(wait: true) }
    isActive = false
  }

  /// Forgets this call (after a failure), releasing the frames it held.
  func abandon() {
    for c in waiting.indices { waiting[c] = nil }
    slot.reset()
    isActive = false
  }

  /// Takes in every chunk that already arrived.
  func poll() throws {
    while outstanding > 0, try take(wait: false) {}
  }

  private func becameReady(_ c: Int, shard q: Int) throws {
    if q == originShard {
      try send(c, kind: .reduceScatterChunk)
    } else if let frame = waiting[c] {
      waiting[c] = nil
      try absorb(c, shard: q, frame: frame)
    }
  }

  /// Receives one chunk (waiting for it, or not); returns whether one came.
  @discardableResult
  private func take(wait: Bool) throws -> Bool {
    guard let receiver else { return false }
    guard
      let header = try wire.receiveFromNeighbour(
        receiver, into: slot, peer: predecessor, kind: .reduceScatterChunk, step: step,
        tensorID: tensorID, wait: wait, operation: "ring reduce-scatter")
    else { return false }
    let c = try chunk(at: header)
    let q = grid.shard(ofChunk: c)
    arrived[c] = true
    if readyElements[c] == grid.ranges[c].count {
      try absorb(c, shard: q, frame: slot)
    } else {
      let held = ZMQMessage()
      held.take(from: slot)
      waiting[c] = held
    }
    return true
  }

  /// The grid chunk `header` describes, which must be one we expect and have not had yet.
  private func chunk(at header: MessageHeader) throws -> Int {
    let p = predecessor
    let c = try grid.chunk(offset: header.offset, length: header.length, peer: p)
    let q = grid.shard(ofChunk: c)
    guard q != originShard else {
      throw TransportError.malformed(
        peer: p, "chunk at \(header.offset) belongs to shard \(q), which this rank sends first")
    }
    guard !arrived[c] else {
      throw TransportError.malformed(peer: p, "chunk at \(header.offset) arrived twice")
    }
    return c
  }

  /// Adds the arrived values of chunk `c` to ours and passes the sum on.
  private func absorb(_ c: Int, shard q: Int, frame: ZMQMessage) throws {
    let r = grid.ranges[c]
    FloatKernels.add(
      frame.bytes.baseAddress!, into: buffer.baseAddress! + r.lowerBound, count: r.count)
    frame.reset()  // let go of the frame now: with inproc it pins the predecessor's buffer
    outstanding -= 1
    if q != rank {
      try send(c, kind: .reduceScatterChunk)
    } else if gatherAfter {
      try send(c, kind: .allGatherChunk)
    }
  }

  private func send(_ c: Int, kind: MessageKind) throws {
    guard let sender else { return }
    try wire.send(buffer, grid.ranges[c], on: sender, kind: kind, step: step, tensorID: tensorID)
  }
}
