import DLP
import DLPTensor
import DLPTransport
import XCTest

@testable import DLPCluster

/// What a hostile or broken coordinator can send a worker besides the messages themselves:
/// shipped arrays whose shapes overflow or whose chunks land outside them, and job
/// descriptions whose values would trap. Each ends in a clear error, never a trap.
final class HostileCoordinatorTests: XCTestCase {
  func chunk(
    _ name: String = "train_x", shape: [UInt64], offset: UInt64 = 0, total: UInt64? = nil,
    last: Bool = false
  )
    -> DataShipmentMessage
  {
    DataShipmentMessage(
      arrayName: name, shape: shape, chunkOffset: offset,
      totalElements: total ?? shape.reduce(1, { $0 &* $1 }), last: last)
  }

  func payload(_ n: Int) throws -> Payload {
    let frames = MessageCodec().encode(
      WeightChunkMessage(totalLength: UInt64(n), last: true),
      payload: [Float](repeating: 1, count: n))
    return try MessageCodec().decode(frames: frames).payload!
  }

  func assertDataError(
    _ body: () throws -> Void, _ needle: String, file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      try body()
      XCTFail("expected an error mentioning '\(needle)'", file: file, line: line)
    } catch let DLPError.data(text) {
      XCTAssertTrue(
        text.contains(needle), "'\(text)' does not mention '\(needle)'", file: file, line: line)
    } catch {
      XCTFail("expected a data error, got \(error)", file: file, line: line)
    }
  }

  func testShippedShapesThatOverflowAreRefused() {
    var a = ShipmentAssembler()
    // 2^32 x 2^32 overflows Int; the declared total is whatever wraps.
    assertDataError(
      { _ = try a.add(self.chunk(shape: [1 << 32, 1 << 32], total: 0), payload: nil) }, "too large")
    assertDataError(
      { _ = try a.add(self.chunk(shape: [.max, 2], total: 2), payload: nil) }, "too large")
    assertDataError(
      { _ = try a.add(self.chunk(shape: [0, .max, .max], total: 0), payload: nil) }, "too large")
    assertDataError(
      { _ = try a.add(self.chunk(shape: Array(repeating: 2, count: 9)), payload: nil) }, "too large"
    )
    assertDataError(
      { _ = try a.add(self.chunk(shape: [10, 3], total: 31), payload: nil) }, "does not hold 31")
    // Fits in Int, but not in this host's memory budget for shipped data.
    a.maxTotalBytes = 1 << 20
    assertDataError(
      { _ = try a.add(self.chunk(shape: [1 << 20, 1]), payload: nil) }, "more than this host allows"
    )
    assertDataError(
      { _ = try a.add(self.chunk("../etc/passwd", shape: [1]), payload: nil) }, "unknown array")
  }

  func testShippedOffsetsOutsideTheArrayAreRefused() throws {
    var a = ShipmentAssembler()
    assertDataError(
      { _ = try a.add(self.chunk(shape: [4, 2], offset: .max), payload: try self.payload(2)) },
      "expected the next one at 0")
    assertDataError(
      { _ = try a.add(self.chunk(shape: [4, 2], offset: 7), payload: try self.payload(2)) },
      "expected the next one at 0")
    XCTAssertFalse(try a.add(chunk(shape: [4, 2]), payload: try payload(6)))
    assertDataError(
      { _ = try a.add(self.chunk(shape: [4, 2], offset: 6), payload: try self.payload(3)) },
      "runs past the end")
    assertDataError(
      { _ = try a.add(self.chunk(shape: [2, 4], offset: 6), payload: try self.payload(2)) },
      "changed shape")
  }

  func testAShipmentWithHolesOrMissingArraysIsRefused() throws {
    var a = ShipmentAssembler()
    XCTAssertFalse(try a.add(chunk(shape: [4, 2]), payload: try payload(6)))
    XCTAssertTrue(try a.add(chunk("train_y", shape: [4], last: true), payload: try payload(4)))
    assertDataError({ _ = try a.finish(name: "d", hash: 0) }, "ended after 6 of its 8")
    var b = ShipmentAssembler()
    XCTAssertTrue(try b.add(chunk("train_y", shape: [4], last: true), payload: try payload(4)))
    assertDataError({ _ = try b.finish(name: "d", hash: 0) }, "without training arrays")
    var c = ShipmentAssembler()
    XCTAssertFalse(try c.add(chunk(shape: [4, 2]), payload: try payload(8)))
    XCTAssertTrue(try c.add(chunk("train_y", shape: [4], last: true), payload: try payload(4)))
    let data = try c.finish(name: "d", hash: 5)
    XCTAssertEqual(data.train.inputs[0].shape, [4, 2])
    XCTAssertEqual(data.contentHash, 5)
  }

  func testJobDescriptionsAreValidatedBeforeUse() throws {
    func description(_ change: (inout JobDescription) -> Void) -> JobDescription {
      var d = JobDescription(
        dataset: "x", samples: nil, numWords: 0, targetColumn: nil, normalize: false,
        validationSplit: 0.1, batchSize: 32,
        seed: 0, collective: "ring")
      change(&d)
      return d
    }
    XCTAssertNoThrow(try description { _ in }.validate())
    let bad: [(String, (inout JobDescription) -> Void)] = [
      ("batch_size 0", { $0.batchSize = 0 }),
      ("batch_size 9223372036854775807", { $0.batchSize = .max }),
      ("collective timeout of nan", { $0.collectiveTimeout = .nan }),
      ("collective timeout of -1", { $0.collectiveTimeout = -1 }),
      ("heartbeat port 70000", { $0.heartbeatPort = 70_000 }),
      ("central port -1", { $0.centralPort = -1 }),
      ("validation_split 1.0", { $0.validationSplit = 1 }),
      ("samples -5", { $0.samples = -5 }),
      ("collective 'star'", { $0.collective = "star" }),
    ]
    for (needle, change) in bad {
      XCTAssertThrowsError(try description(change).validate(), needle) { error in
        XCTAssertTrue("\(error)".contains(needle), "'\(error)' does not mention '\(needle)'")
      }
    }
  }
}
