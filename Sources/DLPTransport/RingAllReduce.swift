import Foundation
import Logging

/// Bandwidth-optimal all-reduce around a ring (Patarasuk & Yuan 2009): a reduce-scatter, after
/// which rank r owns the fully reduced shard r of the buffer, then an all-gather of the shards.
/// Each link carries 2(N-1)/N of the buffer.
///
/// Rank r receives from rank r-1 on its `CollectiveListener` (PULL) and sends to rank r+1
/// (PUSH). Shards come from `ShardPlan` (contiguous, as even as possible, possibly empty) and
/// are streamed in chunks of `chunkBytes`, pipelined: every chunk is sent the moment it can be
/// (`RingReduceScatter`), without copying (ZeroMQ's I/O thread reads it from the caller's
/// buffer), so the reduce-scatter of one chunk overlaps the transfer of the next and the
/// all-gather starts before the reduce-scatter has finished. Messages from anybody but the
/// predecessor are dropped (`ChunkWire.receiveFromNeighbour`).
///
/// Determinism: each element is summed once, by a fixed sequence of ranks, and the all-gather
/// copies the owner's value, so the result is bitwise identical on every rank.
///
/// ZeRO-1: call `reduceScatter` on the gradients (or `beginReduceScatter` and mark each layer's
/// gradients ready as backward produces them), update the weights of `ownedRange` with the
/// optimizer (whose state only needs to cover that shard), then `allGather` the weights.
public final class RingAllReduce: AllReduceCollective, @unchecked Sendable {
  public struct Options: Sendable {
    /// The chunk size training and the benchmark use unless told otherwise.
    public static let defaultChunkBytes = 512 << 10

    public var rank: Int
    public var worldSize: Int
    /// Stamped on and checked in every chunk header.
    public var jobID: UInt64
    /// Size of the pieces a shard is streamed in. 512 KiB: on loopback with 2 ranks (5
    /// alternating rounds) it moved 4 / 16 MiB at 1.82 / 1.97 GB/s bus against 1.79 / 1.74 with
    /// 256 KiB and 1.67 / 1.90 with 1 MiB, and trained the MLP over tcp 10% faster than 256 KiB
    /// (fewer messages, each a wake-up of two I/O threads, while the MLP's 0.8 MB shards still
    /// stream as two chunks).
    public var chunkBytes: Int
    /// Longest wait for any one chunk from the predecessor, in seconds.
    public var timeout: Double
    /// Chunks at least this big are sent without copying.
    public var zeroCopyMinBytes: Int
    /// Raised by another thread to abandon a run.
    public var cancellation: Cancellation?
    /// CURVE for the socket to the next rank (a client of its listener), when the job is secured.
    public var curve: CurveRole? = nil
    /// The sending socket's kernel buffer (`ZMQ_SNDBUF`); nil: the OS's autotuning.
    public var sendBufferBytes: Int32? = nil
    /// Gives the sending socket a ZeroMQ context (and so an I/O thread) of its own, so that
    /// writing to the successor and reading from the predecessor run on different threads
    /// instead of taking turns on the listener's. (Not for inproc endpoints, which only the
    /// listener's context can reach.)
    public var ownSendThread = true

    public init(
      rank: Int, worldSize: Int, jobID: UInt64 = 0, chunkBytes: Int = Options.defaultChunkBytes,
      timeout: Double = 30,
      zeroCopyMinBytes: Int = 32 << 10, cancellation: Cancellation? = nil
    ) {
      self.rank = rank
      self.worldSize = worldSize
      self.jobID = jobID
      self.chunkBytes = chunkBytes
      self.timeout = timeout
      self.zeroCopyMinBytes = zeroCopyMinBytes
      self.cancellation = cancellation
    }
  }

  public let options: Options
  public var rank: Int { options.rank }
  public var worldSize: Int { options.worldSize }
  private let receiver: ZMQSocket?
  private let sender: ZMQSocket?
  private let wire: ChunkWire
  private let chunkElements: Int
  private let scatter: RingReduceScatter
  private var failure: TransportError?
  private let logger = Logger(label: "dlp.transport.ring")

  /// Sets up rank `options.rank` of the ring: receives on `listener` (bound by this rank) and
  /// connects to `nextEndpoint`, the listener of rank `(rank + 1) % worldSize`. With one rank
  /// neither is needed (pass nil) and every call returns at once.
  public init(
    context: ZMQContext, listener: CollectiveListener?, nextEndpoint: String?, options: Options
  ) throws {
    guard options.worldSize >= 1, options.rank >= 0, options.rank < options.worldSize else {
      throw TransportError.invalidArgument(
        "rank \(options.rank) is not in a ring of \(options.worldSize)")
    }
    guard options.chunkBytes >= 4 else {
      throw TransportError.invalidArgument(
        "chunkBytes must hold at least one float, got \(options.chunkBytes)")
    }
    guard options.timeout > 0 else {
      throw TransportError.invalidArgument("timeout must be positive")
    }
    self.options = options
    chunkElements = options.chunkBytes / 4
    let prev = (options.rank + options.worldSize - 1) % options.worldSize
    let next = (options.rank + 1) % options.worldSize
    wire = ChunkWire(
      jobID: options.jobID, rank: options.rank, timeout: options.timeout,
      cancellation: options.cancellation,
      zeroCopyMinBytes: options.zeroCopyMinBytes, maxChunkBytes: chunkElements * 4)
    scatter = RingReduceScatter(
      wire: wire, rank: options.rank, worldSize: options.worldSize, chunkElements: chunkElements)
    if options.worldSize == 1 {
      receiver = nil
      sender = nil
      return
    }
    guard let listener, let nextEndpoint else {
      throw TransportError.invalidArgument(
        "a ring of \(options.worldSize) ranks needs a listener and the next endpoint")
    }
    guard chunkElements * 4 <= listener.maxChunkBytes else {
      throw TransportError.invalidArgument(
        "chunkBytes \(options.chunkBytes) exceeds the listener's frame cap \(listener.maxChunkBytes)"
      )
    }
    // Received chunks reuse the arena's memory instead of fresh pages (see FrameMemory).
    let inFlight = Int(listener.receiveHighWaterMark) + 2
    FrameMemory.keepMapped(
      frameBytes: chunkElements * 4, retained: 2 * inFlight * chunkElements * 4)
    receiver = listener.socket
    receiver?.peerRank = prev
    // inproc endpoints exist only inside their own context.
    let ownThread = options.ownSendThread && !nextEndpoint.hasPrefix("inproc://")
    let push = try ZMQSocket(
      context: ownThread ? ZMQContext() : context, kind: .push,
      options: Self.senderOptions(options).secured(options.curve))
    push.peerRank = next
    try push.connect(nextEndpoint)
    sender = push
  }

  deinit { close() }

  /// The sending socket's options. No send limit: a send must never block while the
  /// predecessor waits for us (every rank sends before it receives), and what waits in the queue
  /// is our own buffer (zero-copy) or frames we received, both bounded by the buffer. The
  /// receiver's queue is what is capped (`CollectiveListener`).
  static func senderOptions(_ options: Options) -> ZMQSocket.Options {
    var o = ZMQSocket.Options(sendHighWaterMark: 0, sendTimeout: options.timeout)
    o.sendBufferBytes = options.sendBufferBytes
    return o
  }

  /// Closes the sockets, letting queued chunks drain for up to `min(timeout, 2)` seconds.
  public func close() {
    sender?.close(linger: min(options.timeout, 2))
    receiver?.close()
  }

  /// Closes the sockets and drops whatever is queued (after a failure).
  private func abort() {
    sender?.close()
    receiver?.close()
  }

  /// Messages from strangers dropped so far.
  public var droppedMessages: Int { wire.droppedMessages }

  /// How a buffer of `count` elements is split into the shards the ranks own.
  public func shardPlan(count: Int) -> ShardPlan { ShardPlan(count: count, parts: worldSize) }

  /// The elements this rank owns after `reduceScatter` on a buffer of `count` elements.
  public func ownedRange(count: Int) -> Range<Int> { shardPlan(count: count).range(rank) }

  /// All-reduce (sum) in place.
  public func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0)
    throws
  {
    try guarded {
      try scatterAll(buffer, step: step, tensorID: tensorID, gatherAfter: true)
      try gather(buffer, step: step, tensorID: tensorID, originate: false)
      try wire.drain()
    }
  }

  /// Reduce-scatter: afterwards `buffer[ownedRange]` holds the sum over all ranks; the rest of
  /// the buffer holds partial sums. Returns `ownedRange`.
  @discardableResult
  public func reduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws
    -> Range<Int>
  {
    try guarded {
      try scatterAll(buffer, step: step, tensorID: tensorID, gatherAfter: false)
      try wire.drain()
    }
    return ownedRange(count: buffer.count)
  }

  /// All-gather: every rank contributes `buffer[ownedRange]` and receives everyone else's
  /// shard, so afterwards all buffers are identical.
  public func allGather(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    try guarded {
      try gather(buffer, step: step, tensorID: tensorID, originate: true)
      try wire.drain()
    }
  }

  /// Starts a reduce-scatter whose input becomes ready piece by piece: see
  /// `ShardedCollective.beginReduceScatter`. Chunks of a ready piece leave at once and arrived
  /// chunks are added whenever the session is called, so the transfers overlap whatever the
  /// caller computes between calls.
  public func beginReduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32
  ) throws -> any ReduceScatterSession {
    try guarded {
      try checkIdle()
      scatter.begin(
        buffer, step: step, tensorID: tensorID, sender: sender, receiver: receiver,
        gatherAfter: false)
    }
    return Session(ring: self, count: buffer.count)
  }

  /// A `RingAllReduce` reduce-scatter in progress.
  private final class Session: ReduceScatterSession {
    let ring: RingAllReduce
    let count: Int
    var done = false

    init(ring: RingAllReduce, count: Int) {
      self.ring = ring
      self.count = count
    }

    func ready(_ range: Range<Int>) throws {
      guard !done else { throw TransportError.invalidArgument("the reduce-scatter is finished") }
      // A wrong range is the caller's mistake, refused before anything moves: the ring stays up.
      try ring.scatter.check(range)
      try ring.guarded { try ring.scatter.ready(range) }
    }

    @discardableResult
    func finish() throws -> Range<Int> {
      guard !done else { throw TransportError.invalidArgument("the reduce-scatter is finished") }
      done = true
      try ring.guarded {
        try ring.scatter.finish()
        try ring.wire.drain()
      }
      return ring.ownedRange(count: count)
    }
  }

  private func checkIdle() throws {
    guard !scatter.isActive else {
      throw TransportError.invalidArgument(
        "a reduce-scatter begun with beginReduceScatter is not finished")
    }
  }

  /// Runs a phase; on failure marks the ring broken and makes sure ZeroMQ no longer references
  /// the caller's buffer before the error reaches the caller.
  private func guarded(_ body: () throws -> Void) throws {
    if let failure {
      throw TransportError.invalidArgument("the ring failed earlier (\(failure)); build a new one")
    }
    do {
      try body()
    } catch {
      let transportError = error as? TransportError ?? .invalidArgument("\(error)")
      failure = transportError
      scatter.abandon()
      // Closing with linger 0 drops queued frames, which releases their references to the buffer.
      abort()
      if !wire.tracker.waitUntilDrained(timeout: 5) {
        logger.error(
          "zero-copy frames still referenced after the ring failed", metadata: ["rank": "\(rank)"])
      }
      logger.warning(
        "ring all-reduce failed", metadata: ["rank": "\(rank)", "error": "\(transportError)"])
      throw transportError
    }
  }

  /// The whole reduce-scatter, every element ready from the start.
  private func scatterAll(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32, gatherAfter: Bool
  ) throws {
    try checkIdle()
    guard worldSize > 1, buffer.count > 0 else { return }
    scatter.begin(
      buffer, step: step, tensorID: tensorID, sender: sender, receiver: receiver,
      gatherAfter: gatherAfter)
    try scatter.finish()
  }

  /// All-gather. At step t rank r receives the finished shard r-1-t, copies it and forwards the
  /// very frame it received (no copy out of our buffer) unless its successor owns that shard.
  /// With `originate`, first sends our own shard (after a reduce-scatter with `gatherAfter`,
  /// it is already on its way).
  private func gather(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32, originate: Bool
  ) throws {
    try checkIdle()
    let n = worldSize
    guard n > 1, buffer.count > 0, let receiver, let sender else { return }
    let r = rank
    let prev = (r + n - 1) % n
    let plan = shardPlan(count: buffer.count)
    func shard(_ k: Int) -> Range<Int> { plan.range(((k % n) + n) % n) }
    let slot = ZMQMessage()
    defer { slot.reset() }
    let base = buffer.baseAddress!
    if originate {
      let own = Chunks(range: shard(r), size: chunkElements)
      for j in 0..<own.count {
        try wire.send(
          buffer, own[j], on: sender, kind: .allGatherChunk, step: step, tensorID: tensorID)
      }
    }
    for t in 0..<(n - 1) {
      let chunks = Chunks(range: shard(r - 1 - t), size: chunkElements)
      for j in 0..<chunks.count {
        let c = chunks[j]
        let header = try wire.receiveFromNeighbour(
          receiver, into: slot, peer: prev, kind: .allGatherChunk, step: step, tensorID: tensorID,
          wait: true, operation: "ring all-gather")!
        try wire.expect(header, from: prev, range: c)
        FloatKernels.copy(slot.bytes.baseAddress!, into: base + c.lowerBound, count: c.count)
        if t < n - 2 {
          try wire.forward(
            slot, offset: c.lowerBound, count: c.count, on: sender, kind: .allGatherChunk,
            step: step, tensorID: tensorID)
        }
        slot.reset()
      }
    }
  }
}
