import DLPTestSupport
import DLPTransport
import Foundation
import XCTest

/// The seeded fuzzer (`MessageFuzzer`) against `MessageCodec`: 100k cases in the suite
/// (`DLP_FUZZ_MESSAGES=N` for a longer run, `DLP_FUZZ_SEED=S` to change the seed). Every case
/// either decodes or throws a `TransportError`; never a trap, a hang or an allocation that
/// grows with the input's claims. Valid cases must decode to the message that was sent.
final class MessageFuzzerTests: XCTestCase {
  var environment: [String: String] { ProcessInfo.processInfo.environment }
  var count: Int { environment["DLP_FUZZ_MESSAGES"].flatMap(Int.init) ?? 100_000 }
  var seed: UInt64 { environment["DLP_FUZZ_SEED"].flatMap(UInt64.init) ?? 20_261_204 }

  func testTheCodecSurvivesFuzzedMessagesOfEveryKind() throws {
    var fuzzer = MessageFuzzer(seed: seed)
    let codec = MessageCodec(limits: .init(maxBodyBytes: 1 << 20, maxPayloadBytes: 1 << 20))
    codec.logsRefusals = false
    var kinds = Set<MessageKind>()
    var mutations: [MessageFuzzer.Mutation: Int] = [:]
    var decoded = 0
    var refused = 0
    let before = ResidentMemory.bytes()
    for i in 0..<count {
      let c = fuzzer.nextCase()
      kinds.insert(c.original.kind)
      mutations[c.mutation, default: 0] += 1
      // Half the cases with an expectation as a receiver would set one.
      let expecting: Expectation =
        i % 2 == 0
        ? .any : Expectation(kinds: [c.original.kind], jobID: c.jobID, step: nil, senderRank: nil)
      do {
        let env = try codec.decode(frames: c.frames, expecting: expecting, peer: 1)
        decoded += 1
        if c.mutation == .none {
          XCTAssertEqual(
            env.message, c.original,
            "case \(i) (seed \(seed)): a valid \(c.original.kind) did not round-trip")
          XCTAssertEqual(env.header.jobID, c.jobID)
          XCTAssertEqual(env.payload?.floats ?? [], c.payload ?? [], "case \(i): payload")
        }
      } catch is TransportError {
        refused += 1
        if c.mutation == .none {
          XCTFail("case \(i) (seed \(seed)): a valid \(c.original.kind) was refused")
        }
      } catch {
        XCTFail("case \(i) (seed \(seed), \(c.mutation)): \(error) is not a TransportError")
      }
    }
    XCTAssertEqual(kinds, Set(MessageKind.allCases), "some kinds were never generated")
    XCTAssertEqual(
      Set(mutations.keys), Set(MessageFuzzer.Mutation.allCases), "some mutations were never applied"
    )
    XCTAssertGreaterThan(refused, count / 2, "most mutations should be refused")
    XCTAssertGreaterThan(decoded, count / 20)
    let growth = ResidentMemory.bytes() - before
    XCTAssertLessThan(
      growth, 256 << 20, "decoding \(count) fuzzed messages grew memory by \(growth >> 20) MiB")
  }

  /// The same cases through real sockets (a ROUTER, as the coordinator's control socket):
  /// frames beyond the limit, empty and oversized frames, and a well-formed message after
  /// each bad one still arrives intact, so a hostile peer cannot desynchronise the stream.
  func testFuzzedFramesOverASocketNeverDesynchroniseIt() throws {
    let context = try ZMQContext()
    let codec = MessageCodec(limits: .init(maxBodyBytes: 1 << 20, maxPayloadBytes: 1 << 20))
    codec.logsRefusals = false
    let router = try ZMQSocket(
      context: context, kind: .router, options: .init(maxMessageSize: codec.limits.maxFrameBytes))
    let endpoint = "inproc://fuzz-\(UUID().uuidString)"
    try router.bind(endpoint)
    let dealer = try ZMQSocket(
      context: context, kind: .dealer, options: .init(routingID: Array("hostile".utf8)))
    try dealer.connect(endpoint)
    var fuzzer = MessageFuzzer(seed: seed &+ 1)
    let marker = MessageCodec(jobID: 77).encode(HeartbeatMessage(sequence: 424_242))
    let n = min(count / 50, 4000)
    for i in 0..<n {
      var frames = fuzzer.nextCase().frames
      if i % 97 == 0 { frames = Array(repeating: [1], count: 9) }  // more frames than a message may have
      if frames.isEmpty { frames = [[]] }
      for (k, f) in frames.enumerated() { try dealer.send(f, more: k < frames.count - 1) }
      for (k, f) in marker.enumerated() { try dealer.send(f, more: k < marker.count - 1) }
      // Whatever the fuzzed message did, the marker after it must come through as sent.
      var seen = false
      for _ in 0..<3 {
        do {
          let env = try codec.receive(from: router, timeout: 10)
          XCTAssertEqual(env.routingID, Array("hostile".utf8))
          if case .heartbeat(let h) = env.message, h.sequence == 424_242, env.header.jobID == 77 {
            seen = true
            break
          }
        } catch let e as TransportError {
          if case .timeout = e { break }
        }
      }
      XCTAssertTrue(seen, "case \(i): the well-formed message after a fuzzed one was lost")
      if !seen { return }
    }
  }
}
