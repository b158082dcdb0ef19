import CZMQ
import Foundation
import Logging

/// All-reduce among ranks on one host through POSIX shared memory.
///
/// Each rank owns a segment with two slots of `capacity` floats (see `SharedSegment`) and maps
/// every peer's segment read-only; the ranks find each other and set up over ZeroMQ (their
/// collective listeners, an `AttachRound` once everyone has mapped everyone), and the sockets
/// close. After that the floats never cross a socket: a rank writes its data into its own slot and
/// publishes an announcement in its segment's mailbox, the fields a header-only DLP message
/// would carry (`SharedReduceReady`, `SharedGatherReady`; step, tensor, and
/// the region that holds the data), checked by every peer as a header would be; the peer then
/// reads the region straight out of the mapping. This is what MPI's shared-memory transport and
/// NCCL's intra-node paths do: each byte moves through memory once or twice instead of through
/// the kernel's socket buffers four times, and a peer learns of it in microseconds instead of
/// through two ZeroMQ I/O threads.
///
/// - Reduce-scatter: rank r copies the shards the others own into its slot, says so, and sums
///   shard r over all ranks, in rank order (so the result is bitwise the same whoever runs it),
///   into its own buffer.
/// - All-gather: rank r copies its shard into its slot, says so, and copies every other
///   shard out of its owner's slot.
///
/// Slots alternate between calls. A rank reuses a slot two calls later, and by then every
/// peer has sent its message of the call in between, which it only does after it finished
/// reading that slot: two messages per peer per call, no acknowledgements.
///
/// Zero-copy: a buffer that lives in the segment (`registeredBuffer(_:)`: training puts the
/// model's flat weights and gradients there) is read by the peers where it is, without the
/// copy into a slot. The price is a rule: after a call on a registered buffer, the caller
/// leaves the parts the peers read (the others' shards after `reduceScatter`, its own shard
/// after `allGather`) alone until its next call on this collective has returned, because that
/// call waits for every peer's message of it, sent only after the peer finished reading. ZeRO-1
/// training keeps the rule by construction (backward writes the gradients only after the
/// weights' all-gather, the optimizer its shard only after the next reduce-scatter); `run` on
/// a registered buffer publishes its shard's sum from a staging slot instead, so that its
/// caller may write the buffer at once, still in two rounds.
///
/// Messages from one peer arrive in order, and a peer is at most one call ahead of us (it
/// cannot finish a call without our message), so at most one early message per peer is kept.
/// Anything else (another job, an unknown kind, a region that is not the expected one, a
/// stranger's garbage) is refused with a log line and the wait goes on.
public final class SharedMemoryAllReduce: ShardedCollective, @unchecked Sendable {
  public struct Options: Sendable {
    public var rank: Int
    public var worldSize: Int
    /// Stamped on and checked in every header; also names the segments.
    public var jobID: UInt64
    /// The largest buffer (floats) a call may pass.
    public var capacity: Int
    /// Longest wait for a peer's message (or its segment at set-up), in seconds.
    public var timeout: Double
    /// Raised by another thread to abandon a call.
    public var cancellation: Cancellation?
    /// Segment names are `/PREFIX-JOB-rRANK`.
    public var segmentPrefix: String
    /// Buffers of `capacity` floats the segment also holds for the caller (zero-copy).
    public var registeredBuffers: Int

    public init(
      rank: Int, worldSize: Int, jobID: UInt64, capacity: Int, timeout: Double = 30,
      cancellation: Cancellation? = nil, segmentPrefix: String = "dlp", registeredBuffers: Int = 0
    ) {
      self.registeredBuffers = registeredBuffers
      self.rank = rank
      self.worldSize = worldSize
      self.jobID = jobID
      self.capacity = capacity
      self.timeout = timeout
      self.cancellation = cancellation
      self.segmentPrefix = segmentPrefix
    }
  }

  public let options: Options
  public var rank: Int { options.rank }
  public var worldSize: Int { options.worldSize }
  private var own: SharedSegment?
  private var peers: [SharedSegment?]
  /// The reduce's source pointers, one per rank (kept to avoid an allocation per call).
  private var sources: [UnsafePointer<Float>]
  /// Calls made so far; its parity picks the slot.
  private var calls = 0
  static let stagingSlots = 2
  /// Announcements published so far (every rank makes the same sequence of them).
  private var announcements = 0
  /// How long a waiting rank spins before it sleeps on a peer's sequence word.
  static let spinSeconds = 60e-6
  /// More ranks than this host has cores: waiting ranks sleep without spinning.
  private lazy var oversubscribed = worldSize > ProcessInfo.processInfo.activeProcessorCount
  /// A one-rank group's registered buffers (no segment needed).
  private var local: UnsafeMutablePointer<Float>?
  private var failure: TransportError?
  private let logger = Logger(label: "dlp.transport.shm")

  /// Sets up rank `options.rank`: creates its segment, connects to every peer's listener
  /// (`endpoints[q]`, the `CollectiveListener` rank q bound; ours is `listener`), maps every
  /// peer's segment, and waits until every peer has mapped ours, then unlinks its name.
  public init(
    context: ZMQContext, listener: CollectiveListener?, endpoints: [String], options: Options
  ) throws {
    let n = options.worldSize
    guard n >= 1, options.rank >= 0, options.rank < n else {
      throw TransportError.invalidArgument("rank \(options.rank) is not in a group of \(n)")
    }
    guard options.capacity >= 0, options.timeout > 0, (0...8).contains(options.registeredBuffers) else {
      throw TransportError.invalidArgument(
        "capacity must be >= 0, timeout positive and registered buffers in 0...8")
    }
    self.options = options
    peers = Array(repeating: nil, count: n)
    sources = Array(repeating: UnsafePointer(bitPattern: 64)!, count: n)
    let slotFloats = Swift.max(options.capacity, 1)
    let slots = Self.stagingSlots + options.registeredBuffers
    guard n > 1 else {
      // One rank: registered buffers still have to exist; private memory will do.
      if options.registeredBuffers > 0 {
        local = .allocate(capacity: slotFloats * options.registeredBuffers)
        local!.initialize(repeating: 0, count: slotFloats * options.registeredBuffers)
      }
      return
    }
    guard let listener, endpoints.count == n else {
      throw TransportError.invalidArgument(
        "a shared-memory group of \(n) ranks needs a listener and \(n) endpoints, got \(endpoints.count)")
    }
    func name(_ q: Int) -> String {
      SharedSegment.name(prefix: options.segmentPrefix, token: options.jobID, rank: q)
    }
    // The sockets serve the set-up only: closed (letting our SharedAttached drain) once it is done.
    var senders = [ZMQSocket?](repeating: nil, count: n)
    defer {
      for s in senders { s?.close(linger: min(options.timeout, 2)) }
      listener.socket.close()
    }
    do {
      own = try SharedSegment(
        creating: name(options.rank), token: options.jobID, rank: options.rank,
        slotFloats: slotFloats, slots: slots)
      for q in 0..<n where q != options.rank {
        let push = try ZMQSocket(
          context: context, kind: .push,
          options: .init(sendHighWaterMark: 1000, sendTimeout: options.timeout))
        push.peerRank = q
        try push.connect(endpoints[q])
        senders[q] = push
      }
      for q in 0..<n where q != options.rank {
        peers[q] = try SharedSegment(
          opening: name(q), token: options.jobID, rank: q, slotFloats: slotFloats, slots: slots,
          timeout: options.timeout, cancellation: options.cancellation)
      }
      // Everyone has mapped everyone once every peer says so: the names can go.
      try AttachRound.run(
        jobID: options.jobID, rank: options.rank, worldSize: n, senders: senders,
        receiver: listener.socket, timeout: options.timeout, cancellation: options.cancellation)
      own?.unlink()
    } catch {
      close()
      throw error
    }
  }

  deinit {
    close()
    local?.deallocate()
  }

  /// Registered buffer `index` (< `options.registeredBuffers`), `capacity` floats that live in
  /// this rank's segment: collectives on it skip the copy into a slot (see the type's rule).
  /// Valid until `close`.
  public func registeredBuffer(_ index: Int) -> UnsafeMutableBufferPointer<Float> {
    precondition(index >= 0 && index < options.registeredBuffers, "registered buffer \(index)")
    let floats = Swift.max(options.capacity, 1)
    if let local { return .init(start: local + index * floats, count: floats) }
    return .init(start: own!.slot(Self.stagingSlots + index), count: floats)
  }

  /// Which registered buffer `buffer` starts, if any.
  private func registeredIndex(of buffer: UnsafeMutableBufferPointer<Float>) -> Int? {
    guard let own, let start = buffer.baseAddress else { return nil }
    for i in 0..<options.registeredBuffers where own.slot(Self.stagingSlots + i) == start {
      return i
    }
    return nil
  }

  /// Unmaps every segment (and unlinks ours, should set-up have failed before it could).
  public func close() {
    own?.close()
    for p in peers { p?.close() }
    own = nil
    peers = peers.map { _ in nil }
  }

  public func ownedRange(count: Int) -> Range<Int> {
    ShardPlan(count: count, parts: worldSize).range(rank)
  }

  public func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0)
    throws
  {
    guard let registered = registeredIndex(of: buffer) else {
      try reduceScatter(buffer, step: step, tensorID: tensorID)
      try allGather(buffer, step: step, tensorID: tensorID)
      return
    }
    // A registered buffer: the peers read our contribution where it is, but our shard's sum goes
    // to a staging slot, not back into the buffer, so that the caller may write the buffer as
    // soon as we return. Every peer has then announced its gather, which it does only after it
    // summed (read) its shard of our buffer; and the slot is not written again before every
    // peer announced its next call, after it finished copying from it. Two rounds, as for an
    // unregistered buffer, and no third one to hand the buffer back.
    let plan = ShardPlan(count: buffer.count, parts: worldSize)
    try guarded(buffer.count) { parity in
      let base = buffer.baseAddress!
      let whole = slotRegion(Self.stagingSlots + registered, 0..<buffer.count)
      announce(.sharedReduceReady, step: step, tensorID: tensorID, region: whole)
      try awaitPeers(.sharedReduceReady, step: step, tensorID: tensorID, operation: "shared reduce-scatter")
      { _ in whole }
      let r = plan.range(rank)
      let staged = own!.slot(parity)
      if !r.isEmpty {
        for q in 0..<worldSize {
          sources[q] = q == rank ? UnsafePointer(base) : UnsafePointer(peers[q]!.slot(Self.stagingSlots + registered))
        }
        SharedKernels.sum(sources, range: r, into: staged)
      }
      announce(.sharedGatherReady, step: step, tensorID: tensorID, region: slotRegion(parity, r))
      try awaitPeers(.sharedGatherReady, step: step, tensorID: tensorID, operation: "shared all-gather")
      { q in self.slotRegion(parity, plan.range(q)) }
      for q in 0..<worldSize {
        let s = plan.range(q)
        let from = q == rank ? UnsafePointer(staged) : UnsafePointer(peers[q]!.slot(parity))
        if !s.isEmpty { (base + s.lowerBound).update(from: from + s.lowerBound, count: s.count) }
      }
    }
  }

  @discardableResult
  public func reduceScatter(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws -> Range<Int> {
    let plan = ShardPlan(count: buffer.count, parts: worldSize)
    let registered = registeredIndex(of: buffer)
    try guarded(buffer.count) { parity in
      let base = buffer.baseAddress!
      // Where the peers find our contribution: the registered buffer itself, or a slot we copy
      // the shards they own into (ours stays in the buffer).
      let slot = registered.map { Self.stagingSlots + $0 } ?? parity
      if registered == nil {
        let mine = own!.slot(slot)
        for q in 0..<worldSize where q != rank {
          let r = plan.range(q)
          if !r.isEmpty { (mine + r.lowerBound).update(from: base + r.lowerBound, count: r.count) }
        }
      }
      announce(.sharedReduceReady, step: step, tensorID: tensorID, region: slotRegion(slot, 0..<buffer.count))
      try awaitPeers(.sharedReduceReady, step: step, tensorID: tensorID, operation: "shared reduce-scatter")
      { _ in self.slotRegion(slot, 0..<buffer.count) }
      let r = plan.range(rank)
      if !r.isEmpty {
        for q in 0..<worldSize {
          sources[q] = q == rank ? UnsafePointer(base) : UnsafePointer(peers[q]!.slot(slot))
        }
        SharedKernels.sum(sources, range: r, into: base)
      }
    }
    return plan.range(rank)
  }

  public func allGather(
    _ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32 = 0
  ) throws {
    let plan = ShardPlan(count: buffer.count, parts: worldSize)
    let registered = registeredIndex(of: buffer)
    try guarded(buffer.count) { parity in
      let base = buffer.baseAddress!
      let r = plan.range(rank)
      let slot = registered.map { Self.stagingSlots + $0 } ?? parity
      if registered == nil, !r.isEmpty {
        (own!.slot(slot) + r.lowerBound).update(from: base + r.lowerBound, count: r.count)
      }
      announce(.sharedGatherReady, step: step, tensorID: tensorID, region: slotRegion(slot, plan.range(rank)))
      try awaitPeers(.sharedGatherReady, step: step, tensorID: tensorID, operation: "shared all-gather")
      { q in self.slotRegion(slot, plan.range(q)) }
      for q in 0..<worldSize where q != rank {
        let s = plan.range(q)
        if !s.isEmpty {
          (base + s.lowerBound).update(from: peers[q]!.slot(slot) + s.lowerBound, count: s.count)
        }
      }
    }
  }

  /// The region of slot `slot` that holds `range`, as the header's offset/length (elements from
  /// the start of slot 0).
  private func slotRegion(_ slot: Int, _ range: Range<Int>) -> Range<Int> {
    let start = slot * Swift.max(options.capacity, 1) + range.lowerBound
    return start..<(start + range.count)
  }

  /// Runs one call on the next slot; a failure breaks the collective.
  private func guarded(_ count: Int, _ body: (Int) throws -> Void) throws {
    if let failure {
      throw TransportError.invalidArgument(
        "the shared-memory collective failed earlier (\(failure)); build a new one")
    }
    guard count <= options.capacity else {
      throw TransportError.invalidArgument(
        "buffer of \(count) floats exceeds the shared-memory capacity \(options.capacity)")
    }
    guard worldSize > 1, count > 0 else { return }
    let slot = calls & 1
    calls += 1
    do {
      try body(slot)
    } catch {
      let e = error as? TransportError ?? .invalidArgument("\(error)")
      failure = e
      // The peers' segments go now; our own stays mapped until `close()`: the caller's
      // registered buffers (a model's weights and gradients) live in it and must be copied out
      // first.
      for p in peers { p?.close() }
      peers = peers.map { _ in nil }
      logger.warning("shared-memory all-reduce failed", metadata: ["rank": "\(rank)", "error": "\(e)"])
      throw e
    }
  }

  /// Publishes, in our mailbox, that region `r` of our segment is ready: the record first, then
  /// the sequence word (release), then a futex wake for peers that went to sleep on it.
  private func announce(_ kind: MessageKind, step: UInt64, tensorID: UInt32, region r: Range<Int>) {
    let own = self.own!
    own.record(announcements).pointee = MailboxRecord(
      kind: kind.rawValue, tensorID: tensorID, step: step, offset: UInt64(r.lowerBound),
      length: UInt64(r.count))
    announcements += 1
    dlp_store_release_u32(own.sequence, UInt32(truncatingIfNeeded: announcements))
    _ = dlp_futex_wake_all(own.sequence)
  }

  /// Waits until every peer q has published the announcement we just made ourselves, and checks
  /// that it says what we expect (`kind`, `step`, `tensorID`, `region(q)`): a peer that says
  /// anything else is out of step, and the collective fails naming it.
  ///
  /// A peer usually arrives within microseconds of us, so we spin (`spinSeconds`) before
  /// sleeping on its sequence word: waking a sleeping thread costs tens of microseconds, a whole
  /// message hop more on a virtual machine whose idle vCPU halted.
  private func awaitPeers(
    _ kind: MessageKind, step: UInt64, tensorID: UInt32, operation: String,
    region: @escaping (Int) -> Range<Int>
  ) throws {
    let target = UInt32(truncatingIfNeeded: announcements)
    let index = announcements - 1
    let start = DispatchTime.now().uptimeNanoseconds
    // More ranks than cores: the peer we wait for may need this very core, so sleep at once.
    let spinUntil = start + (oversubscribed ? 0 : UInt64(Self.spinSeconds * 1e9))
    let deadline = start + UInt64(options.timeout * 1e9)
    for q in 0..<worldSize where q != rank {
      let peer = peers[q]!
      let word = UnsafePointer(peer.sequence)
      var polls = 0
      while true {
        let seen = dlp_load_acquire_u32(word)
        if Int32(bitPattern: seen &- target) >= 0 { break }
        polls += 1
        if polls & 31 != 0 || DispatchTime.now().uptimeNanoseconds < spinUntil {
          // More ranks than cores: the peer we wait for may need this very core.
          dlp_shm_relax()
          continue
        }
        if options.cancellation?.isCancelled == true { throw TransportError.cancelled(operation: operation) }
        guard DispatchTime.now().uptimeNanoseconds < deadline else {
          throw TransportError.timeout(
            peer: q, operation: "\(operation): no \(kind) from rank \(q)", seconds: options.timeout)
        }
        _ = dlp_futex_wait(word, seen, 5_000_000)
      }
      let got = peer.record(index).pointee
      let want = region(q)
      guard got.kind == kind.rawValue, got.step == step, got.tensorID == tensorID,
        got.offset == UInt64(want.lowerBound), got.length == UInt64(want.count)
      else {
        throw TransportError.malformed(
          peer: q,
          "\(operation): rank \(q) announced \(MessageKind(rawValue: got.kind).map { "\($0)" } ?? "kind \(got.kind)") for step \(got.step), tensor \(got.tensorID), region \(got.offset)+\(got.length); expected \(kind) for step \(step), tensor \(tensorID), region \(want.lowerBound)+\(want.count)"
        )
      }
    }
  }
}

/// The summing loop of the shared-memory reduce-scatter.
enum SharedKernels {
  /// `dst[i] = sources[0][i] + sources[1][i] + ...` (left to right) for i in `range`; one of
  /// the sources may be `dst` itself (every element is read before it is written).
  static func sum(_ sources: [UnsafePointer<Float>], range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
    if sources.count == 2 {
      let a = sources[0]
      let b = sources[1]
      for i in range { dst[i] = a[i] + b[i] }
      return
    }
    // Blocks small enough to stay in L1 while every source is added in.
    let block = 1024
    withUnsafeTemporaryAllocation(of: Float.self, capacity: block) { tmp in
      var start = range.lowerBound
      while start < range.upperBound {
        let n = Swift.min(block, range.upperBound - start)
        let s0 = sources[0] + start
        for i in 0..<n { tmp[i] = s0[i] }
        for q in 1..<sources.count {
          let s = sources[q] + start
          for i in 0..<n { tmp[i] += s[i] }
        }
        for i in 0..<n { dst[start + i] = tmp[i] }
        start += n
      }
    }
  }
}
