import DLPTransport
import XCTest

/// Values a hostile or broken coordinator could send that decode fine but must not be used.
final class MessageValidationTests: XCTestCase {
  func spec(
    rank: Int32 = 0, world: Int32 = 2, endpoints: [String] = ["tcp://a:1", "tcp://b:2"],
    bucket: UInt64 = 25 << 20
  )
    -> JobSpecMessage
  {
    JobSpecMessage(
      jobID: 9, modelJSON: "{}", rank: rank, worldSize: world, peerEndpoints: endpoints,
      bucketBytes: bucket)
  }

  func assertMalformed(
    _ body: () throws -> Void, _ needle: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertThrowsTransportError(try body(), needle, file: file, line: line) {
      if case .malformed(_, let text) = $0 { return text.contains(needle) } else { return false }
    }
  }

  func testJobSpecRanksAndWorldSizes() throws {
    XCTAssertNoThrow(try spec().validate())
    XCTAssertNoThrow(try spec(rank: 1, world: 2).validate())
    XCTAssertNoThrow(
      try spec(world: 5, endpoints: []).validate(), "central and K-fold jobs list no ring")
    assertMalformed({ try self.spec(world: 0, endpoints: []).validate() }, "world_size 0")
    assertMalformed({ try self.spec(world: -3, endpoints: []).validate() }, "world_size -3")
    assertMalformed({ try self.spec(world: .max, endpoints: []).validate() }, "world_size")
    assertMalformed({ try self.spec(rank: -1).validate() }, "rank -1")
    assertMalformed({ try self.spec(rank: 2).validate() }, "rank 2")
    assertMalformed({ try self.spec(rank: .min).validate() }, "rank")
    assertMalformed({ try self.spec(endpoints: ["tcp://a:1"]).validate() }, "1 ring endpoints")
    assertMalformed(
      { try self.spec(endpoints: ["tcp://a:1", "http://evil"]).validate() }, "not a ZeroMQ endpoint"
    )
    assertMalformed(
      {
        try self.spec(endpoints: ["tcp://a:1", "tcp://" + String(repeating: "x", count: 5000)])
          .validate()
      },
      "not a ZeroMQ endpoint")
    assertMalformed({ try self.spec(bucket: 2).validate() }, "bucket_bytes")
    assertMalformed({ try self.spec(bucket: .max).validate() }, "bucket_bytes")
    var empty = spec()
    empty.modelJSON = ""
    assertMalformed({ try empty.validate() }, "no model")
  }

  func testWelcome() {
    XCTAssertNoThrow(try WelcomeMessage(jobID: 1, rank: 0, worldSize: 1).validate())
    assertMalformed(
      { try WelcomeMessage(jobID: 1, rank: 0, worldSize: 0).validate() }, "world_size 0")
    assertMalformed({ try WelcomeMessage(jobID: 1, rank: -2, worldSize: 4).validate() }, "rank -2")
    assertMalformed({ try WelcomeMessage(jobID: 1, rank: 4, worldSize: 4).validate() }, "rank 4")
  }

  func testStepCommandShards() {
    let ok = StepCommandMessage(
      epoch: 0, step: 1, shardStart: 2, shardCount: 2, globalBatchSize: 4, sampleIndices: [7, 9])
    XCTAssertNoThrow(try ok.validate(rows: 10))
    assertMalformed({ try ok.validate(rows: 9) }, "row 9")
    assertMalformed(
      {
        try StepCommandMessage(
          epoch: 0, step: 1, shardStart: .max, shardCount: .max, globalBatchSize: 4,
          sampleIndices: []
        ).validate(rows: 10)
      },
      "outside its batch")
    assertMalformed(
      {
        try StepCommandMessage(
          epoch: 0, step: 1, shardStart: 0, shardCount: 3, globalBatchSize: 4, sampleIndices: [1]
        ).validate(rows: 10)
      },
      "1 rows for a shard of 3")
    assertMalformed(
      {
        try StepCommandMessage(
          epoch: 0, step: 1, shardStart: 0, shardCount: 0, globalBatchSize: 0, sampleIndices: []
        ).validate(rows: 10)
      },
      "global batch of 0")
  }

  func testTaskAssignmentGroups() {
    XCTAssertNoThrow(
      try TaskAssignmentMessage(taskID: 1, taskJSON: "{}", optionsJSON: "{}").validate())
    XCTAssertNoThrow(
      try TaskAssignmentMessage(
        taskID: 1, taskJSON: "", optionsJSON: "", groupRank: 1,
        peerEndpoints: ["tcp://a:1", "tcp://b:1"]
      ).validate())
    assertMalformed(
      {
        try TaskAssignmentMessage(
          taskID: 1, taskJSON: "", optionsJSON: "", groupRank: 2,
          peerEndpoints: ["tcp://a:1", "tcp://b:1"]
        ).validate()
      },
      "rank 2")
    assertMalformed(
      {
        try TaskAssignmentMessage(taskID: 1, taskJSON: "", optionsJSON: "", groupRank: -1)
          .validate()
      }, "rank -1")
    // Stream endpoints: one tcp endpoint per member of a group, or none.
    let peers = ["tcp://a:1", "tcp://b:1"]
    XCTAssertNoThrow(
      try TaskAssignmentMessage(
        taskID: 1, taskJSON: "", optionsJSON: "", peerEndpoints: peers, peerStreamEndpoints: ["tcp://a:2", "tcp://b:2"]
      ).validate())
    assertMalformed(
      {
        try TaskAssignmentMessage(
          taskID: 1, taskJSON: "", optionsJSON: "", peerEndpoints: peers, peerStreamEndpoints: ["tcp://a:2"]
        ).validate()
      }, "1 stream endpoints for a group of 2")
    assertMalformed(
      {
        try TaskAssignmentMessage(taskID: 1, taskJSON: "", optionsJSON: "", peerStreamEndpoints: ["tcp://a:2"])
          .validate()
      }, "group of 1")
    assertMalformed(
      {
        try TaskAssignmentMessage(
          taskID: 1, taskJSON: "", optionsJSON: "", peerEndpoints: peers, peerStreamEndpoints: ["tcp://a:2", "inproc://x"]
        ).validate()
      }, "not tcp://HOST:PORT")
  }

  /// A Reconfigure's stream endpoints: none (the ring runs over ZeroMQ), or one tcp endpoint per
  /// rank of a ring that is not in shared memory.
  func testReconfigureStreamEndpoints() {
    func reconfigure(_ streams: [String], sharedMemory: Bool = false) -> ReconfigureMessage {
      ReconfigureMessage(
        generation: 1, rank: 0, worldSize: 2, peerEndpoints: ["tcp://a:1", "tcp://b:2"], sharedMemory: sharedMemory,
        parameterCount: 10, peerStreamEndpoints: streams)
    }
    XCTAssertNoThrow(try reconfigure([]).validate(parameterCount: 10, slotCount: 0, ring: true))
    XCTAssertNoThrow(try reconfigure(["tcp://a:3", "tcp://b:4"]).validate(parameterCount: 10, slotCount: 0, ring: true))
    assertMalformed(
      { try reconfigure(["tcp://a:3"]).validate(parameterCount: 10, slotCount: 0, ring: true) }, "1 stream endpoints")
    assertMalformed(
      { try reconfigure(["tcp://a:3", "tcp://b:4"], sharedMemory: true).validate(parameterCount: 10, slotCount: 0, ring: true) },
      "shared-memory")
    assertMalformed(
      { try reconfigure(["tcp://a:3", "tcp://b:4"]).validate(parameterCount: 10, slotCount: 0, ring: false) },
      "stream endpoints")
    assertMalformed(
      { try reconfigure(["tcp://a:3", "ipc:///tmp/x"]).validate(parameterCount: 10, slotCount: 0, ring: true) },
      "not tcp://HOST:PORT")
    assertMalformed(
      {
        try reconfigure(["tcp://a:3", "tcp://" + String(repeating: "b", count: 5000) + ":4"])
          .validate(parameterCount: 10, slotCount: 0, ring: true)
      }, "stream endpoint of rank 1")
  }
}
