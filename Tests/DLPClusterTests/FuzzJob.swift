import DLP
import DLPTestSupport
import DLPTransport
import Foundation

@testable import DLPCluster

/// The small job the state-machine fuzz tests run (6 features, 3 classes, Adam), and what they
/// share: how many messages to send, the seed, and the frames of a fuzz case on a socket.
enum FuzzJob {
  static let environment = ProcessInfo.processInfo.environment
  /// Fuzzed messages per test (`DLP_FUZZ_MESSAGES` for a longer run).
  static func messages(default n: Int) -> Int {
    environment["DLP_FUZZ_MESSAGES"].flatMap(Int.init) ?? n
  }
  static var seed: UInt64 { environment["DLP_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_205 }

  static func data(rows n: Int) throws -> PreparedData {
    try threeClassData(rows: n, seed: 8, name: "fuzz", contentHash: 0xF022)
  }

  static func model() throws -> Model {
    let m = try Sequential(
      [InputLayer(shape: [6]), Dense(8, activation: .relu), Dense(3, activation: .softmax)], seed: 3
    )
    try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    return m
  }

  static func description(batchSize: Int) -> JobDescription {
    var d = JobDescription(
      dataset: "", samples: nil, numWords: 0, targetColumn: nil, normalize: false,
      validationSplit: 0,
      batchSize: batchSize, seed: 1, collective: "ring", collectiveTimeout: 2)
    d.heartbeatTimeout = 60
    return d
  }

  /// Sends `frames` as one message (a ROUTER's routing id first when given); false when the
  /// socket would not take it (the peer is gone, or its queue is full).
  @discardableResult
  static func send(_ frames: [[UInt8]], on socket: ZMQSocket, to routingID: [UInt8]? = nil) -> Bool
  {
    let frames = frames.isEmpty ? [[]] : frames
    do {
      if let routingID { try socket.send(routingID, more: true) }
      for (k, f) in frames.enumerated() { try socket.send(f, more: k < frames.count - 1) }
      return true
    } catch {
      return false
    }
  }
}

/// Counts what a fuzz run sent, by kind and mutation, to check every kind had its share.
struct FuzzTally {
  var sent = 0
  var kinds = Set<MessageKind>()
  var valid = 0

  mutating func add(_ c: MessageFuzzer.FuzzCase) {
    sent += 1
    kinds.insert(c.original.kind)
    if c.mutation == .none { valid += 1 }
  }
}

/// Hands a value to a thread that alone uses it from then on (the job's thread).
final class HandOver<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
