import Foundation
import Logging

/// The ring all-reduce of `RingAllReduce` (same grid, same chains of additions, so bitwise the
/// same sums) over plain TCP connections instead of ZeroMQ, for unsecured multi-host jobs.
///
/// Why a second wire: with ZeroMQ every chunk hops from the caller's thread to an I/O thread,
/// through the kernel, to the peer's I/O thread, into a ZeroMQ frame, and only then to the
/// caller, which adds (or copies) it into the buffer. On 2 ranks of a 2-vCPU machine that is
/// six busy threads and a copy per received byte more than Open MPI's tcp transport, which
/// reached 1.1-1.6x our bandwidth there. Here one thread per rank drives both connections with
/// non-blocking calls and `poll`: chunks are written straight from the caller's buffer, the
/// all-gather's chunks are read straight into it, and the reduce-scatter's are read in pieces
/// small enough to stay in cache while they are added.
///
/// The wire (`StreamWire.swift`): the connecting rank says hello (protocol version, collective,
/// rank, world size, chunk grid); after it, each chunk is a 32-byte header and its floats. The
/// predecessor's connection is the only one read, and every header is checked against the grid
/// and what this call still expects (kind, step, tensor, a chunk of the grid not yet received),
/// so a broken or out-of-step neighbour fails the call with a clear error instead of writing
/// anywhere it should not. Strangers never get past `StreamListener.acceptPredecessor`. There
/// is no encryption: secured jobs use `RingAllReduce` under CURVE.
///
/// A failure (the peer closed, a bad header, a timeout, a cancellation) closes both connections,
/// so the neighbours fail their call at once rather than waiting out their timeouts, and leaves
/// the ring broken: later calls throw.
public final class StreamRing: ShardedCollective, @unchecked Sendable {
  public struct Options: Sendable {
    /// 256 KiB: see `scripts/bench/allreduce` and the README's tcp section.
    public static let defaultChunkBytes = 256 << 10

    public var rank: Int
    public var worldSize: Int
    /// The collective (job and generation) both ends of each connection must name.
    public var collectiveID: UInt64
    public var chunkBytes: Int
    /// Longest time without any progress (a byte read or written, a connection made), seconds.
    public var timeout: Double
    public var cancellation: Cancellation?

    public init(
      rank: Int, worldSize: Int, collectiveID: UInt64 = 0,
      chunkBytes: Int = Options.defaultChunkBytes, timeout: Double = 30,
      cancellation: Cancellation? = nil
    ) {
      self.rank = rank
      self.worldSize = worldSize
      self.collectiveID = collectiveID
      self.chunkBytes = chunkBytes
      self.timeout = timeout
      self.cancellation = cancellation
    }
  }

  public let options: Options
  public var rank: Int { options.rank }
  public var worldSize: Int { options.worldSize }
  private let chunkElements: Int
  private var toNext: StreamSocket?
  private var fromPrev: StreamSocket?
  private var failure: TransportError?
  private var grids: [Int: RingChunkGrid] = [:]
  private let sendQueue = StreamSendQueue()
  /// Where reduce-scatter chunks are read before they are added: small enough to stay in cache.
  private let scratch: UnsafeMutableRawPointer
  private static let scratchBytes = 64 << 10
  private let logger = Logger(label: "dlp.transport.stream")

  private var predecessor: Int { (rank + worldSize - 1) % worldSize }
  private var successor: Int { (rank + 1) % worldSize }

  /// Connects rank `options.rank` to its successor's listener at `nextEndpoint`, then waits on
  /// `listener` for its predecessor (every rank connects before it accepts, so the set-up cannot
  /// deadlock). With one rank neither is needed.
  public init(listener: StreamListener?, nextEndpoint: String?, options: Options) throws {
    guard options.worldSize >= 1, options.rank >= 0, options.rank < options.worldSize else {
      throw TransportError.invalidArgument(
        "rank \(options.rank) is not in a ring of \(options.worldSize)")
    }
    guard options.chunkBytes >= 4, options.chunkBytes <= 64 << 20 else {
      throw TransportError.invalidArgument(
        "chunkBytes must be 4 B ... 64 MiB, got \(options.chunkBytes)")
    }
    guard options.timeout > 0, options.timeout <= 1e6 else {
      throw TransportError.invalidArgument("timeout must be in (0, 1e6] seconds, got \(options.timeout)")
    }
    self.options = options
    chunkElements = options.chunkBytes / 4
    scratch = UnsafeMutableRawPointer.allocate(byteCount: Self.scratchBytes, alignment: 64)
    guard options.worldSize > 1 else { return }
    guard let listener, let nextEndpoint else {
      throw TransportError.invalidArgument(
        "a ring of \(options.worldSize) ranks needs a stream listener and the next endpoint")
    }
    let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(options.timeout * 1e9)
    let next = try StreamSocket.connect(to: nextEndpoint, deadline: deadline, peer: successor)
    var hello = [UInt8](repeating: 0, count: StreamHello.size)
    hello.withUnsafeMutableBytes {
      StreamHello(
        collectiveID: options.collectiveID, senderRank: options.rank,
        worldSize: options.worldSize, chunkElements: chunkElements
      ).pack(into: $0.baseAddress!)
    }
    try hello.withUnsafeMutableBytes { h in
      var iov = iovec(iov_base: h.baseAddress!, iov_len: h.count)
      // A fresh connection's buffer takes 32 bytes at once.
      guard try next.send(&iov, count: 1, peer: successor) == h.count else {
        throw TransportError.unreachable(peer: successor, "it did not take the stream hello")
      }
    }
    toNext = next
    fromPrev = try listener.acceptPredecessor(
      StreamHello(
        collectiveID: options.collectiveID, senderRank: predecessor,
        worldSize: options.worldSize, chunkElements: chunkElements),
      timeout: options.timeout, cancellation: options.cancellation,
      operation: "waiting for ring rank \(predecessor) to connect")
  }

  deinit {
    close()
    scratch.deallocate()
    headerBytes.deallocate()
  }

  /// Closes both connections. Every call returns only after its data was handed to the kernel,
  /// which still delivers it after the close.
  public func close() {
    toNext?.close()
    fromPrev?.close()
  }

  public func ownedRange(count: Int) -> Range<Int> {
    ShardPlan(count: count, parts: worldSize).range(rank)
  }

  public func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0)
    throws
  {
    try exchange(buffer, step: step, tensorID: tensorID, scatter: true, gather: true)
  }

  @discardableResult
  public func reduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws -> Range<Int> {
    try exchange(buffer, step: step, tensorID: tensorID, scatter: true, gather: false)
    return ownedRange(count: buffer.count)
  }

  public func allGather(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    try exchange(buffer, step: step, tensorID: tensorID, scatter: false, gather: true)
  }

  // MARK: The exchange

  /// One call's state: which chunks are still to come.
  private struct Call {
    var buffer: UnsafeMutableBufferPointer<Float>
    var step: UInt64
    var tensorID: UInt32
    var scatter: Bool
    var gather: Bool
    var grid: RingChunkGrid
    var scatterLeft: Int
    var gatherLeft: Int
    var expecting: Bool { scatterLeft > 0 || gatherLeft > 0 }
  }

  /// Which chunks of the current call arrived, as reduce-scatter (bit 0) or all-gather (bit 1)
  /// chunks; kept from call to call so a step allocates nothing.
  private var arrivals: [UInt8] = []
  private static let scatterArrived: UInt8 = 1
  private static let gatherArrived: UInt8 = 2
  /// The header being read.
  private let headerBytes = UnsafeMutableRawPointer.allocate(
    byteCount: StreamChunkHeader.size, alignment: 8)

  /// The chunk being read from the predecessor.
  private struct Incoming {
    var headerFilled = 0
    /// The chunk whose floats are being read (nil: reading a header).
    var chunk: Int? = nil
    var kind = StreamChunkHeader.Kind.reduceScatter
    /// Bytes of the chunk's floats read so far.
    var done = 0
    /// Reduce-scatter: bytes in `scratch` not yet added (a float split across reads).
    var carry = 0
  }

  private func exchange(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32, scatter: Bool,
    gather: Bool
  ) throws {
    if let failure {
      throw TransportError.invalidArgument("the ring failed earlier (\(failure)); build a new one")
    }
    guard worldSize > 1, buffer.count > 0, let toNext, let fromPrev else { return }
    do {
      try drive(
        buffer, step: step, tensorID: tensorID, scatter: scatter, gather: gather, toNext: toNext,
        fromPrev: fromPrev)
    } catch {
      let transportError = error as? TransportError ?? .invalidArgument("\(error)")
      failure = transportError
      sendQueue.removeAll()
      close()
      logger.warning(
        "stream ring failed", metadata: ["rank": "\(rank)", "error": "\(transportError)"])
      throw transportError
    }
  }

  private func grid(count: Int) -> RingChunkGrid {
    if let g = grids[count] { return g }
    if grids.count >= 4 { grids.removeAll() }
    let g = RingChunkGrid(count: count, worldSize: worldSize, chunkElements: chunkElements)
    grids[count] = g
    return g
  }

  private func drive(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32, scatter: Bool,
    gather: Bool, toNext: StreamSocket, fromPrev: StreamSocket
  ) throws {
    let g = grid(count: buffer.count)
    let n = g.ranges.count
    if arrivals.count < n { arrivals = Array(repeating: 0, count: n) }
    for c in 0..<n { arrivals[c] = 0 }
    var call = Call(
      buffer: buffer, step: step, tensorID: tensorID, scatter: scatter, gather: gather, grid: g,
      scatterLeft: scatter ? n - g.chunks(ofShard: predecessor).count : 0,
      gatherLeft: gather ? n - g.chunks(ofShard: rank).count : 0)
    sendQueue.reserve(2 * n + 1)
    // What leaves first: the chain of shard q starts at rank q + 1, so a reduce-scatter starts
    // with shard `predecessor`; an all-gather alone with this rank's own (already reduced) shard.
    if scatter {
      for c in g.chunks(ofShard: predecessor) { enqueue(c, .reduceScatter, call) }
    } else {
      for c in g.chunks(ofShard: rank) { enqueue(c, .allGather, call) }
    }
    var incoming = Incoming()
    // Progress is a whole chunk sent or received: a neighbour that trickles a byte now and then
    // cannot hold the call past the timeout.
    var lastProgress = DispatchTime.now().uptimeNanoseconds
    var moved = (sent: sendQueue.completed, left: call.scatterLeft + call.gatherLeft)
    while call.expecting || !sendQueue.isEmpty {
      var active = false
      if !sendQueue.isEmpty, try sendQueue.flush(on: toNext, peer: successor) > 0 {
        active = true
      }
      // Read at most a few chunks' worth before writing again, so both directions keep moving.
      var budget = 4 * options.chunkBytes
      while call.expecting, budget > 0 {
        let got = try receive(&incoming, &call, from: fromPrev)
        if got == 0 { break }
        budget -= got
        active = true
      }
      if !call.expecting && sendQueue.isEmpty { break }
      let now = DispatchTime.now().uptimeNanoseconds
      let state = (sent: sendQueue.completed, left: call.scatterLeft + call.gatherLeft)
      if state != moved {
        moved = state
        lastProgress = now
      }
      if let c = options.cancellation, c.isCancelled {
        throw TransportError.cancelled(operation: "stream ring step \(step)")
      }
      guard now - lastProgress < UInt64(options.timeout * 1e9) else {
        let p = call.expecting ? predecessor : successor
        let what =
          call.expecting ? "stream ring: waiting for chunks" : "stream ring: sending chunks"
        throw TransportError.timeout(peer: p, operation: what, seconds: options.timeout)
      }
      if active { continue }
      let waited = withUnsafeTemporaryAllocation(of: pollfd.self, capacity: 2) { items in
        items[0] = pollfd(fd: fromPrev.fd, events: call.expecting ? Int16(POLLIN) : 0, revents: 0)
        items[1] = pollfd(fd: toNext.fd, events: sendQueue.isEmpty ? 0 : Int16(POLLOUT), revents: 0)
        return poll(items.baseAddress!, 2, 50)
      }
      if waited < 0, errno != EINTR { throw StreamSocket.error("poll", errno) }
    }
  }

  private func enqueue(_ c: Int, _ kind: StreamChunkHeader.Kind, _ call: Call) {
    let r = call.grid.ranges[c]
    sendQueue.append(
      StreamChunkHeader(
        kind: kind, tensorID: call.tensorID, length: r.count, step: call.step, offset: r.lowerBound),
      payload: UnsafeRawPointer(call.buffer.baseAddress! + r.lowerBound), bytes: r.count * 4)
  }

  /// Reads what the predecessor has sent of the current header or chunk (never past it);
  /// returns the bytes read (0: nothing waiting).
  private func receive(_ s: inout Incoming, _ call: inout Call, from socket: StreamSocket) throws
    -> Int
  {
    let p = predecessor
    guard let c = s.chunk else {
      let n = try socket.receive(
        into: headerBytes + s.headerFilled, count: StreamChunkHeader.size - s.headerFilled, peer: p)
      s.headerFilled += n
      if s.headerFilled == StreamChunkHeader.size {
        let h = try StreamChunkHeader(headerBytes, peer: p)
        try start(&s, h, &call)
      }
      return n
    }
    let r = call.grid.ranges[c]
    let total = r.count * 4
    var n = 0
    if s.kind == .allGather {
      // Straight into the buffer: these are the owner's final values.
      let dst = UnsafeMutableRawPointer(call.buffer.baseAddress! + r.lowerBound) + s.done
      n = try socket.receive(into: dst, count: total - s.done, peer: p)
      s.done += n
    } else {
      let room = min(Self.scratchBytes - s.carry, total - s.done)
      n = try socket.receive(into: scratch + s.carry, count: room, peer: p)
      guard n > 0 else { return 0 }
      let bytes = s.carry + n
      let floats = bytes / 4
      let at = r.lowerBound + (s.done - s.carry) / 4
      FloatKernels.add(scratch, into: call.buffer.baseAddress! + at, count: floats)
      s.carry = bytes - floats * 4
      if s.carry > 0 { scratch.copyMemory(from: scratch + floats * 4, byteCount: s.carry) }
      s.done += n
    }
    if s.done == total { finishChunk(c, &s, &call) }
    return n
  }

  /// Checks a header against what this call still expects and starts reading its chunk.
  private func start(_ s: inout Incoming, _ h: StreamChunkHeader, _ call: inout Call) throws {
    let p = predecessor
    guard h.step == call.step else {
      throw TransportError.unexpectedStep(peer: p, expected: call.step, got: h.step)
    }
    guard h.tensorID == call.tensorID else {
      throw TransportError.malformed(
        peer: p, "chunk of tensor \(h.tensorID), expected tensor \(call.tensorID)")
    }
    let c = try call.grid.chunk(offset: h.offset, length: UInt64(h.length), peer: p)
    let q = call.grid.shard(ofChunk: c)
    let scatter = h.kind == .reduceScatter
    let name = scatter ? "reduce-scatter" : "all-gather"
    guard (scatter ? call.scatterLeft : call.gatherLeft) > 0 else {
      throw TransportError.unexpectedKind(
        peer: p, expected: [scatter ? .allGatherChunk : .reduceScatterChunk],
        got: scatter ? .reduceScatterChunk : .allGatherChunk)
    }
    // This rank starts the reduce-scatter chain of shard p and owns shard `rank`: neither comes
    // in as that kind.
    guard q != (scatter ? p : rank) else {
      throw TransportError.malformed(
        peer: p,
        scatter
          ? "reduce-scatter chunk at \(h.offset) belongs to shard \(q), which this rank sends first"
          : "all-gather chunk at \(h.offset) belongs to this rank's own shard")
    }
    let bit = scatter ? Self.scatterArrived : Self.gatherArrived
    guard arrivals[c] & bit == 0 else {
      throw TransportError.malformed(peer: p, "\(name) chunk at \(h.offset) arrived twice")
    }
    // In a fused all-reduce a shard's all-gather follows its reduce-scatter round the ring: its
    // values must not land here before this rank has added and passed on its share.
    guard scatter || !call.scatter || q == p || arrivals[c] & Self.scatterArrived != 0 else {
      throw TransportError.malformed(
        peer: p, "all-gather chunk at \(h.offset) came before its reduce-scatter chunk")
    }
    arrivals[c] |= bit
    s.chunk = c
    s.kind = h.kind
    s.done = 0
    s.carry = 0
  }

  private func finishChunk(_ c: Int, _ s: inout Incoming, _ call: inout Call) {
    let q = call.grid.shard(ofChunk: c)
    if s.kind == .reduceScatter {
      call.scatterLeft -= 1
      if q != rank {
        enqueue(c, .reduceScatter, call)
      } else if call.gather {
        enqueue(c, .allGather, call)
      }
    } else {
      call.gatherLeft -= 1
      // The successor owns shard `successor` and needs no copy of it.
      if q != successor { enqueue(c, .allGather, call) }
    }
    s.chunk = nil
    s.headerFilled = 0
  }
}
