import XCTest

@testable import DLPTransport

final class MessageCodecTests: XCTestCase {
  static let samples: [Message] = [
    .hello(
      HelloMessage(
        workerID: "worker-α", hostname: "node1", pid: 4242, blasThreads: 2,
        datasetHash: 0xDEAD_BEEF_CAFE_F00D,
        datasetName: "fashion_mnist", ringEndpoint: "tcp://10.0.0.2:5555")),
    .hello(HelloMessage(workerID: "")),
    .welcome(WelcomeMessage(jobID: 99, rank: 3, worldSize: 4)),
    .reject(RejectMessage(reason: "dataset hash differs", supportedVersion: 1)),
    .jobSpec(
      JobSpecMessage(
        jobID: 1 << 40, modelJSON: #"{"class_name": "Sequential"}"#,
        compileJSON: #"{"optimizer": "rmsprop"}"#,
        fitJSON: #"{"epochs": 5}"#, datasetName: "mnist", datasetPath: "/data/mnist.npz",
        shipData: true,
        datasetHash: 12345, seed: 42, rank: 1, worldSize: 3,
        peerEndpoints: ["tcp://a:1", "", "tcp://c:3"], collective: .central, bucketBytes: 1 << 20)),
    .jobSpec(JobSpecMessage(jobID: 0)),
    .stepCommand(
      StepCommandMessage(
        epoch: 2, step: 1234, shardStart: 43, shardCount: 43, globalBatchSize: 128,
        sampleIndices: (0..<43).map { UInt32($0 * 1000 + 7) }, phase: .validate)),
    .stepCommand(
      StepCommandMessage(
        epoch: 0, step: 0, shardStart: 128, shardCount: 0, globalBatchSize: 128, sampleIndices: [],
        phase: .predict)),
    .gradientChunk(GradientChunkMessage(totalLength: 407_050, last: true)),
    .weightChunk(WeightChunkMessage(totalLength: 407_050, last: false)),
    .metricsReport(
      MetricsReportMessage(
        epoch: 1, step: 77, phase: .evaluate, lossSum: 12.75, sampleCount: 43,
        metricState: [39, 43, -0.25])),
    .heartbeat(HeartbeatMessage(sequence: 9, sentUnixNanos: 1_700_000_000_000_000_000)),
    .errorReport(ErrorReportMessage(code: -3, text: "NaN loss at step 5", fatal: true)),
    .shutdown(ShutdownMessage(reason: "done")),
    .dataShipment(
      DataShipmentMessage(
        arrayName: "x_train", shape: [60000, 28, 28], chunkOffset: 1 << 20,
        totalElements: 47_040_000, last: false)),
    .dataShipment(
      DataShipmentMessage(
        arrayName: "train_x", shape: [60000, 28, 28], chunkOffset: 4 << 20,
        totalElements: 47_040_000, last: true, dtype: "uint8", divisor: 255)),
    .taskAssignment(
      TaskAssignmentMessage(
        taskID: 7, taskJSON: "{\"repeat\":1,\"fold\":2}", optionsJSON: "{\"epochs\":3}",
        groupID: 0xDEAD_0000_0001, groupRank: 1,
        peerEndpoints: ["tcp://10.0.0.1:5001", "tcp://10.0.0.2:5002"])),
    .taskAssignment(
      TaskAssignmentMessage(
        taskID: 8, taskJSON: "{}", optionsJSON: "{}", groupID: 3, groupRank: 0,
        peerEndpoints: ["tcp://10.0.0.1:5001", "tcp://10.0.0.2:5002"],
        peerStreamEndpoints: ["tcp://10.0.0.1:6001", "tcp://10.0.0.2:6002"])),
    .taskResult(TaskResultMessage(taskID: 7, resultJSON: "{\"fold\":2}")),
    .taskRequest(TaskRequestMessage(datasetHash: 0xFEED_F00D_DEAD_BEEF)),
    .taskRequest(
      TaskRequestMessage(
        datasetHash: 1, ringEndpoint: "tcp://10.0.0.3:5003", abandonedGroup: 0xDEAD_0000_0002)),
    .taskRequest(
      TaskRequestMessage(datasetHash: 2, ringEndpoint: "tcp://10.0.0.3:5003", streamEndpoint: "tcp://10.0.0.3:6003")),
    .collectiveChunk(.reduceScatterChunk),
    .collectiveChunk(.broadcastChunk),
    .stepCommand(
      StepCommandMessage(
        epoch: 3, step: 99, shardStart: 0, shardCount: 0, globalBatchSize: 0, sampleIndices: [],
        phase: .commit, trainStep: 1 << 33, generation: 7)),
    .metricsReport(MetricsReportMessage(step: 5, lossSum: 1, sampleCount: 2, generation: 1 << 40)),
    .heartbeat(HeartbeatMessage(sequence: 1, sentUnixNanos: 2, generation: 3)),
    .regroup(RegroupMessage(generation: 12)),
    .regroupReady(
      RegroupReadyMessage(generation: 12, ringEndpoint: "tcp://10.0.0.9:4000", hostIdentity: "boot|dev|ns|0")),
    .regroupReady(RegroupReadyMessage(generation: 0, ringEndpoint: "", hostIdentity: "")),
    .regroupReady(
      RegroupReadyMessage(
        generation: 3, ringEndpoint: "tcp://10.0.0.9:4000", hostIdentity: "h", streamEndpoint: "tcp://10.0.0.9:4001")),
    .reconfigure(
      ReconfigureMessage(
        generation: 12, rank: 2, worldSize: 3, peerEndpoints: ["tcp://a:1", "tcp://b:2", "tcp://c:3"],
        sharedMemory: true, centralPort: 5555, iterations: 1 << 35, parameterCount: 407_050, slotCount: 2,
        learningRate: 1e-3)),
    .reconfigure(
      ReconfigureMessage(
        generation: 2, rank: 0, worldSize: 2, peerEndpoints: ["tcp://a:1", "tcp://b:2"],
        peerStreamEndpoints: ["tcp://a:3", "tcp://b:4"])),
    .commitReport(
      CommitReportMessage(
        step: 44, generation: 12, iterations: 900, ownedOffset: 135_684, ownedLength: 135_683, slotCount: 1)),
  ]

  func testProtocolVersionMirrorsTheProto() {
    XCTAssertEqual(DLPProtocol.version, DLPProtocol.generatedVersion)
  }

  func testEveryKindHasASample() {
    let covered = Set(Self.samples.map(\.kind))
    for kind in MessageKind.allCases where !kind.hasEmptyBody {
      XCTAssertTrue(covered.contains(kind), "no sample for \(kind)")
    }
  }

  func testBodiesRoundTrip() throws {
    let arena = ProtobufArena()
    for sample in Self.samples {
      var bytes: [UInt8] = []
      sample.pack(into: &bytes)
      let decoded = try bytes.withUnsafeBytes {
        try Message.decode(kind: sample.kind, body: $0, arena: arena)
      }
      XCTAssertEqual(decoded, sample)
      XCTAssertEqual(arena.bytesInUse, 0, "arena not reset after \(sample.kind)")
    }
  }

  func testTypedRoundTrip() throws {
    let hello = HelloMessage.local(workerID: "w", blasThreads: 1, ringEndpoint: "tcp://127.0.0.1:1")
    XCTAssertEqual(try HelloMessage(packed: hello.packed()), hello)
    XCTAssertFalse(hello.hostname.isEmpty)
  }

  func testFramesRoundTripWithHeaderAndPayload() throws {
    let codec = MessageCodec(jobID: 5, rank: 2)
    let payload: [Float] = [1.5, -2, .infinity, 0, 3e-39]
    for sample in Self.samples {
      let frames =
        sample.kind.hasEmptyBody
        ? payload.withUnsafeBufferPointer {
          codec.encode(sample, step: 11, tensorID: 4, offset: 100, payload: $0)
        }
        : codec.encode(sample, step: 11)
      let envelope = try codec.decode(
        frames: frames, expecting: codec.expect(sample.kind, step: 11))
      XCTAssertEqual(envelope.message, sample)
      XCTAssertEqual(envelope.header.jobID, 5)
      XCTAssertEqual(envelope.header.senderRank, 2)
      XCTAssertEqual(envelope.header.step, 11)
      if sample.kind.hasEmptyBody {
        XCTAssertEqual(envelope.header.tensorID, 4)
        XCTAssertEqual(envelope.header.offset, 100)
        XCTAssertEqual(envelope.header.length, 5)
        XCTAssertEqual(envelope.payload?.floats.map(\.bitPattern), payload.map(\.bitPattern))
      } else {
        XCTAssertNil(envelope.payload)
      }
    }
  }

  func testPayloadWithWireMessage() throws {
    let codec = MessageCodec(jobID: 1, rank: 0)
    let frames = codec.encode(
      GradientChunkMessage(totalLength: 3, last: true), step: 2, payload: [1, 2, 3])
    XCTAssertEqual(frames.count, 3)
    let e = try codec.decode(frames: frames)
    XCTAssertEqual(e.payload?.floats, [1, 2, 3])
    XCTAssertEqual(e.header.payloadBytes, 12)
  }

  func testHeaderRoundTripAndSizeBound() throws {
    let h = MessageHeader(
      jobID: .max, step: .max, kind: .dataShipment, senderRank: -1, tensorID: .max,
      offset: .max / 4,
      length: .max / 4)
    let bytes = h.packed()
    XCTAssertLessThanOrEqual(bytes.count, MessageHeader.maxPackedBytes)
    let back = try bytes.withUnsafeBytes { try MessageHeader(packed: $0, arena: ProtobufArena()) }
    XCTAssertEqual(back, h)
  }

  func testSocketRoundTripEveryMessage() throws {
    let context = try ZMQContext()
    let a = try ZMQSocket(context: context, kind: .pair)
    let b = try ZMQSocket(context: context, kind: .pair)
    let endpoint = try a.bind("tcp://127.0.0.1:*")
    try b.connect(endpoint)
    let sender = MessageCodec(jobID: 8, rank: 1)
    let receiver = MessageCodec(jobID: 8, rank: 0)
    let tracker = ZeroCopyTracker()
    let big = (0..<100_000).map { Float($0) }
    for (i, sample) in Self.samples.enumerated() {
      try big.withUnsafeBufferPointer { p in
        try sender.send(
          sample, on: b, step: UInt64(i), tensorID: 1, payload: sample.kind.hasEmptyBody ? p : nil,
          zeroCopy: tracker)
      }
      let e = try receiver.receive(from: a, expecting: receiver.expect(step: UInt64(i)), timeout: 5)
      XCTAssertEqual(e.message, sample)
      XCTAssertEqual(e.header.senderRank, 1)
      if sample.kind.hasEmptyBody {
        XCTAssertEqual(e.payload?.count, big.count)
        var out = [Float](repeating: 0, count: big.count)
        try out.withUnsafeMutableBufferPointer { try e.payload!.copy(into: $0) }
        XCTAssertEqual(out, big)
      }
    }
    XCTAssertTrue(tracker.waitUntilDrained(timeout: 5))
  }

  func testRouterDealerCarriesRoutingID() throws {
    let context = try ZMQContext()
    let router = try ZMQSocket(context: context, kind: .router)
    let dealer = try ZMQSocket(
      context: context, kind: .dealer, options: .init(routingID: Array("w1".utf8)))
    try dealer.connect(try router.bind("tcp://127.0.0.1:*"))
    let codec = MessageCodec()
    try codec.send(HelloMessage(workerID: "w1"), on: dealer)
    let e = try codec.receive(from: router, expecting: codec.expect(.hello), timeout: 5)
    XCTAssertEqual(e.routingID, Array("w1".utf8))
    let coordinator = MessageCodec(jobID: 3)
    try coordinator.send(
      WelcomeMessage(jobID: 3, rank: 0, worldSize: 1), on: router, routingID: e.routingID)
    let reply = try MessageCodec(jobID: 3).receive(
      from: dealer, expecting: .init(kinds: [.welcome], jobID: 3), timeout: 5)
    XCTAssertEqual(reply.message, .welcome(WelcomeMessage(jobID: 3, rank: 0, worldSize: 1)))
    XCTAssertThrowsTransportError(try coordinator.send(ShutdownMessage(), on: router)) {
      if case .invalidArgument = $0 { return true } else { return false }
    }
  }
}
