import DLPTransport
import Foundation

/// A seeded structured fuzzer of DLP messages: it builds real messages of every kind (every
/// `MessageKind`, with payloads where a kind carries one), encodes them with `MessageCodec`,
/// and mutates the frames the way a broken or hostile peer would: bit flips, truncation,
/// extension, huge length fields (in the header and in the protobuf body), fields at their
/// extremes, swapped kinds, header/payload mismatches, duplicated, dropped and reordered
/// frames, foreign versions and jobs, garbage.
///
/// It depends only on DLPTransport's public API, so the same cases go to the codec
/// (DLPTransportTests), to the coordinator's and worker's state machines (DLPClusterTests) and
/// over real sockets to running processes (EndToEndTests): `FuzzCase.frames` is what goes on
/// the wire, after a ROUTER's routing id. The same seed gives the same cases.
public struct MessageFuzzer {
  /// One generated input.
  public struct FuzzCase: Sendable {
    /// The message before mutation, with the header values it was encoded with.
    public var original: Message
    public var jobID: UInt64
    public var senderRank: Int32
    public var step: UInt64
    public var payload: [Float]?
    /// What was done to the frames (`.none`: a valid encoding that must decode to `original`).
    public var mutation: Mutation
    public var frames: [[UInt8]]
  }

  public enum Mutation: String, CaseIterable, Sendable {
    case none, bitFlips, truncate, extend, hugeHeaderLength, hugeBodyLength, extremeFields, kindSwap
    case payloadMismatch, duplicateFrame, dropFrame, reorderFrames, foreignVersion, garbage
  }

  private var state: UInt64
  public let maxString: Int

  public init(seed: UInt64, maxString: Int = 48) {
    state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
    self.maxString = maxString
  }

  // MARK: Randomness (SplitMix64)

  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  public mutating func below(_ n: Int) -> Int { n <= 1 ? 0 : Int(next() % UInt64(n)) }
  public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) / Double(1 << 53) < p }
  public mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }

  /// Mostly small values, sometimes the extremes a hostile peer would try.
  public mutating func u64() -> UInt64 {
    chance(0.2) ? pick([0, 1, .max, .max - 1, 1 << 63, UInt64(Int64.max)]) : next() % 100_000
  }
  public mutating func u32() -> UInt32 {
    chance(0.2) ? pick([0, 1, .max, 1 << 31]) : UInt32(next() % 100_000)
  }
  public mutating func i32() -> Int32 {
    chance(0.2) ? pick([0, -1, .min, .max]) : Int32(next() % 64) - 2
  }
  public mutating func double(finite: Bool) -> Double {
    if !finite && chance(0.1) { return pick([.nan, .infinity, -.infinity]) }
    return chance(0.1)
      ? pick([0, -0.0, .greatestFiniteMagnitude, .leastNonzeroMagnitude])
      : Double(Int64(next() % 2_000_001) - 1_000_000) / 977
  }

  /// A string without NUL (C strings end there, so it would not round-trip), sometimes
  /// multi-byte, sometimes empty.
  public mutating func string() -> String {
    let n = chance(0.1) ? 0 : below(maxString)
    let alphabet: [Character] = Array("abcXYZ019 _-./:%{}\"\\é漢🙂\t\n")
    return String((0..<n).map { _ in pick(alphabet) })
  }

  public mutating func floats(_ n: Int) -> [Float] {
    (0..<n).map { _ in Float(Int(next() % 2001) - 1000) / 8 }
  }

  // MARK: Messages

  /// A valid message of `kind` and its payload, if the kind carries one. `finite` keeps
  /// doubles comparable (NaN != NaN), for round-trip checks.
  public mutating func message(of kind: MessageKind, finite: Bool = true) -> (Message, [Float]?) {
    switch kind {
    case .hello:
      return (
        .hello(
          HelloMessage(
            protocolVersion: u32(), workerID: string(), hostname: string(), pid: i32(),
            blasThreads: i32(), datasetHash: u64(),
            datasetName: string(), ringEndpoint: string(), hostIdentity: string())), nil
      )
    case .welcome:
      return (.welcome(WelcomeMessage(jobID: u64(), rank: i32(), worldSize: i32())), nil)
    case .reject: return (.reject(RejectMessage(reason: string(), supportedVersion: u32())), nil)
    case .jobSpec:
      return (
        .jobSpec(
          JobSpecMessage(
            jobID: u64(), modelJSON: string(), compileJSON: string(), fitJSON: string(),
            datasetName: string(),
            datasetPath: string(), shipData: chance(0.5), datasetHash: u64(), seed: u64(),
            rank: i32(), worldSize: i32(),
            peerEndpoints: (0..<below(6)).map { _ in string() },
            collective: pick(CollectiveKind.allCases), bucketBytes: u64())), nil
      )
    case .stepCommand:
      return (
        .stepCommand(
          StepCommandMessage(
            epoch: u32(), step: u64(), shardStart: u32(), shardCount: u32(), globalBatchSize: u32(),
            sampleIndices: (0..<below(chance(0.05) ? 4096 : 64)).map { _ in u32() },
            phase: pick(Phase.allCases), trainStep: u64(), generation: u64(),
            learningRate: double(finite: finite))), nil
      )
    case .gradientChunk:
      return (
        .gradientChunk(GradientChunkMessage(totalLength: u64(), last: chance(0.5))),
        floats(below(300))
      )
    case .weightChunk:
      return (
        .weightChunk(WeightChunkMessage(totalLength: u64(), last: chance(0.5))), floats(below(300))
      )
    case .metricsReport:
      return (
        .metricsReport(
          MetricsReportMessage(
            epoch: u32(), step: u64(), phase: pick(Phase.allCases), lossSum: double(finite: finite),
            sampleCount: u64(),
            metricState: (0..<below(8)).map { _ in double(finite: finite) }, generation: u64())),
        nil
      )
    case .heartbeat:
      return (
        .heartbeat(HeartbeatMessage(sequence: u64(), sentUnixNanos: u64(), generation: u64())), nil
      )
    case .errorReport:
      return (
        .errorReport(ErrorReportMessage(code: i32(), text: string(), fatal: chance(0.5))), nil
      )
    case .shutdown: return (.shutdown(ShutdownMessage(reason: string())), nil)
    case .dataShipment:
      let shape = (0..<below(4)).map { _ in u64() }
      return (
        .dataShipment(
          DataShipmentMessage(
            arrayName: pick(["train_x", "train_y", "test_x", "test_y", string()]), shape: shape,
            chunkOffset: u64(),
            totalElements: u64(), last: chance(0.5))), floats(below(200))
      )
    case .taskAssignment:
      return (
        .taskAssignment(
          TaskAssignmentMessage(
            taskID: u64(), taskJSON: string(), optionsJSON: string(), groupID: u64(),
            groupRank: i32(),
            peerEndpoints: (0..<below(5)).map { _ in string() },
            peerKeys: (0..<below(5)).map { _ in string() })), nil
      )
    case .taskResult:
      return (.taskResult(TaskResultMessage(taskID: u64(), resultJSON: string())), nil)
    case .taskRequest:
      return (
        .taskRequest(
          TaskRequestMessage(datasetHash: u64(), ringEndpoint: string(), abandonedGroup: u64())),
        nil
      )
    case .regroup: return (.regroup(RegroupMessage(generation: u64())), nil)
    case .regroupReady:
      return (
        .regroupReady(
          RegroupReadyMessage(generation: u64(), ringEndpoint: string(), hostIdentity: string())),
        nil
      )
    case .reconfigure:
      return (
        .reconfigure(
          ReconfigureMessage(
            generation: u64(), rank: i32(), worldSize: i32(),
            peerEndpoints: (0..<below(5)).map { _ in string() },
            sharedMemory: chance(0.5), centralPort: u32(), iterations: u64(), parameterCount: u64(),
            slotCount: u32(), learningRate: double(finite: finite),
            peerKeys: (0..<below(5)).map { _ in string() })),
        nil
      )
    case .commitReport:
      return (
        .commitReport(
          CommitReportMessage(
            step: u64(), generation: u64(), iterations: u64(), ownedOffset: u64(),
            ownedLength: u64(),
            slotCount: u32())), nil
      )
    case .reduceScatterChunk, .allGatherChunk, .reduceChunk, .broadcastChunk:
      return (.collectiveChunk(kind), floats(below(300)))
    case .sharedAttached, .sharedReduceReady, .sharedGatherReady:
      return (.collectiveChunk(kind), nil)
    }
  }

  /// The next case: a message of a kind taken in turn (so every kind gets its share), encoded,
  /// then mutated (a `validShare` of the cases, about one in eight by default, is left valid).
  /// `jobID` and `senderRank` stamp the header as a running job's would (for cases that must
  /// get past a receiver's job filter into its state machine); random when nil.
  public mutating func nextCase(
    jobID fixedJob: UInt64? = nil, senderRank fixedRank: Int32? = nil, validShare: Double = 0.125
  )
    -> FuzzCase
  {
    let kinds = MessageKind.allCases
    let kind = kinds[below(kinds.count)]
    let mutation = pickMutation(validShare: validShare)
    let (message, payload) = self.message(of: kind, finite: mutation == .none)
    let randomJob = u64()
    let randomRank = i32()
    return encode(
      message, payload: payload, jobID: fixedJob ?? randomJob, senderRank: fixedRank ?? randomRank,
      mutation: mutation)
  }

  /// `.none` with probability `validShare`, else one of the mutations.
  public mutating func pickMutation(validShare: Double = 0.125) -> Mutation {
    chance(validShare) ? .none : pick(Array(Mutation.allCases.dropFirst()))
  }

  /// `message` (with `payload`, for the kinds that carry one) encoded as a peer of job `jobID`
  /// and rank `senderRank` would send it, then mutated: for cases built around a receiver's
  /// state (a message of its current generation, say) rather than drawn at random.
  public mutating func encode(
    _ message: Message, payload: [Float]?, jobID: UInt64, senderRank rank: Int32, mutation: Mutation
  ) -> FuzzCase {
    let step = u64()
    let codec = MessageCodec(jobID: jobID, rank: rank)
    var frames: [[UInt8]]
    if let payload {
      frames = payload.withUnsafeBufferPointer {
        codec.encode(message, step: step, tensorID: u32(), offset: u64(), payload: $0)
      }
    } else {
      frames = codec.encode(message, step: step)
    }
    mutate(&frames, mutation, kind: message.kind, jobID: jobID, rank: rank, step: step)
    return FuzzCase(
      original: message, jobID: jobID, senderRank: rank, step: step, payload: payload,
      mutation: mutation, frames: frames)
  }

  // MARK: Mutations

  public mutating func mutate(
    _ frames: inout [[UInt8]], _ m: Mutation, kind: MessageKind, jobID: UInt64, rank: Int32,
    step: UInt64
  ) {
    switch m {
    case .none:
      return
    case .bitFlips:
      for _ in 0...below(8) {
        let f = below(frames.count)
        guard !frames[f].isEmpty else { continue }
        let i = below(frames[f].count)
        frames[f][i] ^= UInt8(1) << UInt8(below(8))
      }
    case .truncate:
      let f = below(frames.count)
      frames[f] = Array(frames[f].prefix(below(frames[f].count + 1)))
    case .extend:
      let f = below(frames.count)
      frames[f] += (0..<(1 + below(chance(0.1) ? 5000 : 16))).map { _ in
        UInt8(truncatingIfNeeded: next())
      }
    case .hugeHeaderLength:
      let length = pick([UInt64.max, UInt64(Int.max / 4) + 1, 1 << 40, 1 << 28])
      let header = MessageHeader(
        jobID: jobID, step: step, kind: kind, senderRank: rank, length: length,
        payloadBytes: chance(0.5) ? nil : pick([UInt64.max, length &* 4, 4]))
      frames[0] = header.packed()
    case .hugeBodyLength:
      // Rewrite the first length-delimited field's length as a 5-byte varint near 4 GiB.
      guard frames.count > 1, let i = frames[1].firstIndex(where: { $0 & 0x07 == 2 }),
        i + 1 < frames[1].count
      else {
        frames[1] += [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x0F]
        return
      }
      frames[1].replaceSubrange((i + 1)...(i + 1), with: [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])
    case .extremeFields:
      let (message, _) = self.message(of: kind, finite: false)
      let codec = MessageCodec(jobID: pick([0, .max]), rank: pick([.min, .max, -1]))
      frames = codec.encode(message, step: pick([0, .max]), tensorID: .max, offset: .max)
    case .kindSwap:
      let other = MessageKind.allCases[below(MessageKind.allCases.count)]
      frames[0] = MessageHeader(jobID: jobID, step: step, kind: other, senderRank: rank).packed()
      if chance(0.5) {
        frames[0] = MessageHeader(
          jobID: jobID, step: step, kind: other, senderRank: rank, length: 3
        ).packed()
      }
    case .payloadMismatch:
      switch below(4) {
      case 0: frames.append((0..<(1 + below(64))).map { _ in UInt8(truncatingIfNeeded: next()) })
      case 1: if frames.count == 3 { frames.removeLast() } else { frames.append([1, 2, 3]) }
      case 2:
        if frames.count == 3 {
          frames[2] = Array(frames[2].dropLast(1 + below(3)))
        } else {
          frames.append([])
        }
      default:
        frames[0] = MessageHeader(
          jobID: jobID, step: step, kind: kind, senderRank: rank, length: UInt64(below(100))
        ).packed()
      }
    case .duplicateFrame:
      let f = below(frames.count)
      frames.insert(frames[f], at: f)
    case .dropFrame:
      frames.remove(at: below(frames.count))
    case .reorderFrames:
      frames.reverse()
    case .foreignVersion:
      frames[0] = MessageHeader(
        version: pick([0, DLPProtocol.version + 1, .max]), jobID: jobID, step: step, kind: kind,
        senderRank: rank
      ).packed()
    case .garbage:
      frames = (0..<below(6)).map { _ in
        (0..<below(200)).map { _ in UInt8(truncatingIfNeeded: next()) }
      }
    }
  }
}
