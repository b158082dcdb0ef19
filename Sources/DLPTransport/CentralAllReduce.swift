import Foundation
import Logging

/// All-reduce through one root: every other rank sends its buffer to rank 0, which sums the
/// contributions in rank order and broadcasts the sum. Simple and deterministic (the sum is
/// ((g0 + g1) + g2) + ... whatever order messages arrive in), but the root's link carries
/// 2(N-1) buffers per call.
///
/// The root binds a ROUTER socket; the others connect DEALER sockets whose routing id names
/// their rank. Buffers are streamed in chunks: the root folds chunk c as soon as every rank's
/// chunk c is in and broadcasts it at once, while later chunks are still arriving.
///
/// For the coordinator of the central training mode, which applies the optimizer itself, use
/// `reduce` (gradients in) and `broadcast` (weights out) separately, and set
/// `rootContributes = false` when the root has no gradients of its own.
public final class CentralAllReduce: AllReduceCollective, @unchecked Sendable {
  public struct Options: Sendable {
    /// 0 is the root.
    public var rank: Int
    public var worldSize: Int
    public var jobID: UInt64
    public var chunkBytes: Int
    /// Longest wait for any one message, in seconds.
    public var timeout: Double
    public var zeroCopyMinBytes: Int
    /// Whether the root's own buffer is part of the sum (false: the root only relays, as a
    /// coordinator without a model replica does).
    public var rootContributes: Bool
    public var cancellation: Cancellation?

    public init(
      rank: Int, worldSize: Int, jobID: UInt64 = 0, chunkBytes: Int = 256 << 10,
      timeout: Double = 30,
      zeroCopyMinBytes: Int = 32 << 10, rootContributes: Bool = true,
      cancellation: Cancellation? = nil
    ) {
      self.rank = rank
      self.worldSize = worldSize
      self.jobID = jobID
      self.chunkBytes = chunkBytes
      self.timeout = timeout
      self.zeroCopyMinBytes = zeroCopyMinBytes
      self.rootContributes = rootContributes
      self.cancellation = cancellation
    }
  }

  public let options: Options
  public var rank: Int { options.rank }
  public var worldSize: Int { options.worldSize }
  /// The endpoint the root bound (nil on other ranks); what the others connect to.
  public let endpoint: String?
  private let socket: ZMQSocket?
  private let wire: ChunkWire
  private let chunkElements: Int
  private var failure: TransportError?
  private let logger = Logger(label: "dlp.transport.central")

  /// The routing id a non-root rank uses, so the root knows who sent what.
  static func routingID(rank: Int) -> [UInt8] { Array("dlp-rank-\(rank)".utf8) }

  static func rank(routingID: UnsafeRawBufferPointer, worldSize: Int) -> Int? {
    let text = String(decoding: routingID, as: UTF8.self)
    guard text.hasPrefix("dlp-rank-"), let r = Int(text.dropFirst(9)), r >= 1, r < worldSize,
      routingID.elementsEqual(Self.routingID(rank: r))
    else { return nil }
    return r
  }

  /// Sets up rank `options.rank`: the root (rank 0) binds `endpoint` (e.g.
  /// `tcp://127.0.0.1:*`; read the bound one from `self.endpoint`), the others connect to the
  /// root's endpoint.
  public init(context: ZMQContext, endpoint: String, options: Options) throws {
    guard options.worldSize >= 1, options.rank >= 0, options.rank < options.worldSize else {
      throw TransportError.invalidArgument(
        "rank \(options.rank) is not in a group of \(options.worldSize)")
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
    wire = ChunkWire(
      jobID: options.jobID, rank: options.rank, timeout: options.timeout,
      cancellation: options.cancellation,
      zeroCopyMinBytes: options.zeroCopyMinBytes, maxChunkBytes: chunkElements * 4)
    let cap = Int64(max(chunkElements * 4, MessageHeader.maxPackedBytes))
    if options.rank == 0 {
      let router = try ZMQSocket(
        context: context, kind: .router,
        options: .init(
          sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: cap,
          sendTimeout: options.timeout, routerMandatory: true))
      self.endpoint = try router.bind(endpoint)
      socket = router
    } else {
      let dealer = try ZMQSocket(
        context: context, kind: .dealer,
        options: .init(
          sendHighWaterMark: 100_000, receiveHighWaterMark: 100_000, maxMessageSize: cap,
          sendTimeout: options.timeout, routingID: Self.routingID(rank: options.rank)))
      dealer.peerRank = 0
      try dealer.connect(endpoint)
      self.endpoint = nil
      socket = dealer
    }
  }

  deinit { close() }

  /// Closes the socket, letting queued chunks drain for up to `min(timeout, 2)` seconds.
  public func close() { socket?.close(linger: min(options.timeout, 2)) }

  /// All-reduce (sum) in place: reduce to the root and broadcast, pipelined per chunk.
  public func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0)
    throws
  {
    try guarded {
      if rank == 0 {
        try rootReduce(buffer, step: step, tensorID: tensorID, broadcastAsDone: true)
      } else {
        try leafSend(buffer, step: step, tensorID: tensorID)
        try leafReceive(buffer, step: step, tensorID: tensorID)
      }
    }
  }

  /// The first half: on the root, `buffer` becomes the sum of every rank's contribution (in
  /// rank order); on the others, `buffer` is sent (and may be changed once this returns).
  public func reduce(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    try guarded {
      if rank == 0 {
        try rootReduce(buffer, step: step, tensorID: tensorID, broadcastAsDone: false)
      } else {
        try leafSend(buffer, step: step, tensorID: tensorID)
        try wire.drain()
      }
    }
  }

  /// The second half: the root sends `buffer` to every other rank, which receive it into theirs.
  public func broadcast(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    try guarded {
      if rank == 0 {
        let chunks = Chunks(range: 0..<buffer.count, size: chunkElements)
        let peers = leaves
        for j in 0..<chunks.count {
          try wire.broadcast(
            buffer, chunks[j], on: socket!, to: peers, kind: .broadcastChunk, step: step,
            tensorID: tensorID)
        }
        try wire.drain()
      } else {
        try leafReceive(buffer, step: step, tensorID: tensorID)
      }
    }
  }

  /// Every rank's slot of `buffer` (rank r's is `ShardPlan(count: buffer.count, parts:
  /// worldSize).range(r)`) copied bit for bit into every rank's buffer: the leaves send their
  /// slots to the root, which broadcasts the whole buffer. For values that must not go through
  /// float arithmetic (Doubles carried as raw bytes, summed by the caller in rank order).
  public func gather(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    let plan = ShardPlan(count: buffer.count, parts: worldSize)
    try guarded {
      if rank == 0 {
        try rootGather(buffer, plan: plan, step: step, tensorID: tensorID)
      } else {
        let chunks = Chunks(range: plan.range(rank), size: chunkElements)
        for j in 0..<chunks.count {
          try wire.send(
            buffer, chunks[j], on: socket!, kind: .reduceChunk, step: step, tensorID: tensorID)
        }
        try leafReceive(buffer, step: step, tensorID: tensorID)
      }
    }
    if worldSize > 1 && rank == 0 {
      try broadcast(buffer, step: step, tensorID: tensorID)
    }
  }

  /// The root's half of `gather`: copies each leaf's chunks into its slot.
  private func rootGather(
    _ buffer: UnsafeMutableBufferPointer<Float>, plan: ShardPlan, step: UInt64, tensorID: UInt32
  ) throws {
    let n = worldSize
    let chunks = (0..<n).map { Chunks(range: plan.range($0), size: chunkElements) }
    var nextChunk = [Int](repeating: 0, count: n)
    var remaining = (1..<n).reduce(0) { $0 + chunks[$1].count }
    let slot = ZMQMessage()
    defer { slot.reset() }
    while remaining > 0 {
      let header: MessageHeader
      let q: Int
      do {
        let (h, sender) = try wire.receive(
          from: socket!, into: slot, kind: .reduceChunk, step: step, tensorID: tensorID, peer: nil,
          operation: "central gather (root)",
          routingRank: { Self.rank(routingID: $0, worldSize: n) })
        header = h
        q = sender!
      } catch is ChunkWire.Stranger {
        continue
      }
      let c = nextChunk[q]
      guard c < chunks[q].count else {
        throw TransportError.malformed(peer: q, "sent more than its slot of this gather")
      }
      let range = chunks[q][c]
      try wire.expect(header, from: q, range: range)
      FloatKernels.copy(slot.bytes.baseAddress!, into: buffer.baseAddress! + range.lowerBound, count: range.count)
      slot.reset()
      nextChunk[q] += 1
      remaining -= 1
    }
  }

  private var leaves: [(Int, [UInt8])] {
    (1..<max(1, worldSize)).map { ($0, Self.routingID(rank: $0)) }
  }

  private func guarded(_ body: () throws -> Void) throws {
    if let failure {
      throw TransportError.invalidArgument(
        "the collective failed earlier (\(failure)); build a new one")
    }
    guard worldSize > 1 else { return }
    do {
      try body()
    } catch {
      let transportError = error as? TransportError ?? .invalidArgument("\(error)")
      failure = transportError
      socket?.close()  // linger 0: drop queued frames, releasing their references to the buffer
      if !wire.tracker.waitUntilDrained(timeout: 5) {
        logger.error(
          "zero-copy frames still referenced after the collective failed",
          metadata: ["rank": "\(rank)"])
      }
      logger.warning(
        "central all-reduce failed", metadata: ["rank": "\(rank)", "error": "\(transportError)"])
      throw transportError
    }
  }

  // MARK: Non-root ranks

  private func leafSend(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32)
    throws
  {
    let chunks = Chunks(range: 0..<buffer.count, size: chunkElements)
    for j in 0..<chunks.count {
      try wire.send(
        buffer, chunks[j], on: socket!, kind: .reduceChunk, step: step, tensorID: tensorID)
    }
  }

  private func leafReceive(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32
  ) throws {
    let chunks = Chunks(range: 0..<buffer.count, size: chunkElements)
    let slot = ZMQMessage()
    defer { slot.reset() }
    for j in 0..<chunks.count {
      let c = chunks[j]
      let (header, _) = try wire.receive(
        from: socket!, into: slot, kind: .broadcastChunk, step: step, tensorID: tensorID, peer: 0,
        operation: "central all-reduce (waiting for the root)")
      try wire.expect(header, from: 0, range: c)
      FloatKernels.copy(
        slot.bytes.baseAddress!, into: buffer.baseAddress! + c.lowerBound, count: c.count)
      slot.reset()
    }
    // Our contribution was sent zero-copy; the root has received it (it broadcast the sum), but
    // ZeroMQ may not have released it yet.
    try wire.drain()
  }

  // MARK: Root

  /// Receives every chunk of every other rank and folds them into `buffer` in rank order.
  private func rootReduce(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32,
    broadcastAsDone: Bool
  ) throws {
    let n = worldSize
    let chunks = Chunks(range: 0..<buffer.count, size: chunkElements)
    let chunkCount = chunks.count
    guard chunkCount > 0 else { return }
    let base = buffer.baseAddress!
    let socket = self.socket!
    let peers = leaves
    // Per chunk: the next rank to fold, and frames that arrived ahead of their turn.
    var nextRank = [Int](repeating: 1, count: chunkCount)
    var pending = [ZMQMessage?](repeating: nil, count: chunkCount * n)
    // Per rank: the next chunk it must send (each sender's frames arrive in order).
    var nextChunk = [Int](repeating: 0, count: n)
    var remaining = chunkCount * (n - 1)
    var slot = ZMQMessage()

    func fold(_ c: Int, _ q: Int, _ frame: ZMQMessage) {
      let range = chunks[c]
      if q == 1 && !options.rootContributes {
        FloatKernels.copy(
          frame.bytes.baseAddress!, into: base + range.lowerBound, count: range.count)
      } else {
        FloatKernels.add(
          frame.bytes.baseAddress!, into: base + range.lowerBound, count: range.count)
      }
    }

    while remaining > 0 {
      let header: MessageHeader
      let q: Int
      do {
        let (h, sender) = try wire.receive(
          from: socket, into: slot, kind: .reduceChunk, step: step, tensorID: tensorID, peer: nil,
          operation: "central all-reduce (root)",
          routingRank: { Self.rank(routingID: $0, worldSize: n) })
        header = h
        q = sender!
      } catch is ChunkWire.Stranger {
        continue
      } catch TransportError.timeout(_, let op, let s) {
        // Name the rank the earliest unfinished chunk is waiting for.
        let c = nextRank.firstIndex { $0 < n } ?? 0
        throw TransportError.timeout(peer: nextRank[c], operation: op, seconds: s)
      }
      let c = nextChunk[q]
      guard c < chunkCount else {
        throw TransportError.malformed(
          peer: q, "sent more than the \(chunkCount) chunks of this step")
      }
      try wire.expect(header, from: q, range: chunks[c])
      nextChunk[q] += 1
      remaining -= 1
      pending[c * n + q] = slot
      slot = ZMQMessage()
      // Fold whatever is now in rank order.
      while nextRank[c] < n, let frame = pending[c * n + nextRank[c]] {
        fold(c, nextRank[c], frame)
        pending[c * n + nextRank[c]] = nil
        nextRank[c] += 1
      }
      if nextRank[c] == n && broadcastAsDone {
        try wire.broadcast(
          buffer, chunks[c], on: socket, to: peers, kind: .broadcastChunk, step: step,
          tensorID: tensorID)
      }
    }
    if broadcastAsDone { try wire.drain() }
  }
}
