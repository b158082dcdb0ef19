import DLP
import DLPTransport
import Foundation
import XCTest

@testable import DLPCluster

/// `--ship-data` moves each array in its own element type: bytes arrive as bytes (with their
/// divisor), ids bit for bit, floats as floats, across several chunks with a padded last one.
final class DataShipmentTests: XCTestCase {
  func testArraysArriveInTheirOwnElementType() throws {
    let context = try ZMQContext()
    let endpoint = "inproc://shipment-\(UUID().uuidString)"
    let receiver = try ZMQSocket(context: context, kind: .pair)
    _ = try receiver.bind(endpoint)
    let sender = try ZMQSocket(context: context, kind: .pair)
    try sender.connect(endpoint)

    // 4 MiB + 6 bytes: two chunks, the second of 6 bytes padded to 8.
    let rows = (ClusterDefaults.shipmentChunkBytes + 6) / 6
    let pixels = (0..<(rows * 6)).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let ids = (0..<rows).map { Int32($0 % 3 == 0 ? 16_777_217 : -$0) }
    let train = try ArrayData(
      x: SampleArray(shape: [rows, 2, 3], uint8: pixels, divisor: 255), y: SampleArray(shape: [rows], int32: ids))
    let test = try ArrayData(
      x: Tensor(shape: [3, 2, 3], scalars: (0..<18).map { Float($0) / 7 }), y: Tensor([0, 1.5, -2]))
    let sent = PreparedData(train: train, test: test, datasetName: "typed", contentHash: 42)

    let codec = MessageCodec()
    try DataShipment.send(sent, codec: codec, socket: sender, to: [])
    let inbox = MessageCodec()
    let got = try DataShipment.receive(name: "typed", hash: 42) { try inbox.receive(from: receiver, timeout: 10) }
    XCTAssertEqual(got.train.inputs, train.inputs)
    XCTAssertEqual(got.train.targets, train.targets)
    XCTAssertEqual(got.train.inputs[0].dtype, .uint8)
    XCTAssertEqual(got.train.targets[0].dtype, .int32)
    XCTAssertEqual(got.test?.inputs, test.inputs)
    XCTAssertEqual(got.test?.targets, test.targets)
    XCTAssertEqual(got.contentHash, 42)
  }

  func testAChunkThatDoesNotFitIsRefused() throws {
    let context = try ZMQContext()
    let endpoint = "inproc://shipment-\(UUID().uuidString)"
    let receiver = try ZMQSocket(context: context, kind: .pair)
    _ = try receiver.bind(endpoint)
    let sender = try ZMQSocket(context: context, kind: .pair)
    try sender.connect(endpoint)
    let codec = MessageCodec()
    // 8 payload bytes for an int32 array of 3 elements at offset 2: past the end.
    let words: [Float] = [0, 0]
    try words.withUnsafeBufferPointer {
      try codec.send(
        DataShipmentMessage(
          arrayName: "train_x", shape: [3], chunkOffset: 2, totalElements: 3, last: true, dtype: "int32"),
        on: sender, payload: $0)
    }
    let inbox = MessageCodec()
    XCTAssertThrowsError(try DataShipment.receive(name: "t", hash: 0) { try inbox.receive(from: receiver, timeout: 10) }) {
      error in
      XCTAssertTrue("\(error)".contains("train_x"), "\(error)")
    }
    try words.withUnsafeBufferPointer {
      try codec.send(
        DataShipmentMessage(
          arrayName: "train_x", shape: [3], chunkOffset: 0, totalElements: 3, last: true, dtype: "bfloat16"),
        on: sender, payload: $0)
    }
    XCTAssertThrowsError(try DataShipment.receive(name: "t", hash: 0) { try inbox.receive(from: receiver, timeout: 10) }) {
      error in
      XCTAssertTrue("\(error)".contains("unknown element type"), "\(error)")
    }
  }
}
