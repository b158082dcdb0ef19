import DLPTransport
import Foundation
import XCTest

final class AllReduceBenchmarkTests: XCTestCase {
  func testBusBandwidthFormula() {
    XCTAssertEqual(AllReduceBenchmark.busBandwidth(workers: 2, bytes: 1_000_000_000, seconds: 1), 1)
    XCTAssertEqual(AllReduceBenchmark.busBandwidth(workers: 4, bytes: 4_000_000_000, seconds: 2), 3)
    XCTAssertEqual(AllReduceBenchmark.busBandwidth(workers: 1, bytes: 100, seconds: 1), 0)
  }

  func testSmallRunChecksItsResult() throws {
    for collective in CollectiveKind.allCases {
      let r = try AllReduceBenchmark.run(
        workers: 3, bytes: 40_000, iterations: 3, collective: collective, warmup: 1)
      XCTAssertEqual(r.workers, 3)
      XCTAssertEqual(r.iterations, 3)
      XCTAssertGreaterThan(r.medianSeconds, 0)
      XCTAssertGreaterThan(r.busGBps, 0)
    }
  }

  /// The figures in the report: `DLP_BENCH=1 swift test -c release -Xswiftc -enable-testing
  /// --filter AllReduceBenchmarkTests`. `DLP_BENCH=mlp` only times the MLP gradient;
  /// `DLP_BENCH_CHUNK` sets the chunk size in bytes.
  func testMeasure() throws {
    let env = ProcessInfo.processInfo.environment
    guard let mode = env["DLP_BENCH"], mode == "1" || mode == "mlp" else {
      throw XCTSkip("set DLP_BENCH=1 (and build with -c release) to measure")
    }
    let chunk = env["DLP_BENCH_CHUNK"].flatMap(Int.init) ?? 256 << 10
    func show(_ r: AllReduceBenchmark.Result) {
      print(
        String(
          format:
            "allreduce %@ %@ workers=%d bytes=%d chunk=%d median=%.3f ms min=%.3f ms bus=%.2f GB/s",
          r.collective, r.transport, r.workers, r.bytes, chunk, r.medianSeconds * 1e3,
          r.minSeconds * 1e3, r.busGBps))
    }
    let mlpGradient = 407_050 * 4  // 784*512 + 512 + 512*10 + 10 floats
    for transport in AllReduceBenchmark.Transport.allCases {
      for collective in CollectiveKind.allCases {
        show(
          try AllReduceBenchmark.run(
            workers: 2, bytes: mlpGradient, iterations: 200, collective: collective, warmup: 20,
            transport: transport, chunkBytes: chunk))
      }
    }
    guard mode == "1" else { return }
    for collective in CollectiveKind.allCases {
      for workers in [2, 4] {
        for mb in [4, 16, 64] {
          show(
            try AllReduceBenchmark.run(
              workers: workers, bytes: mb << 20, iterations: mb == 64 ? 8 : 20,
              collective: collective, warmup: 2,
              chunkBytes: chunk))
        }
      }
    }
  }

  /// The transport's bound for two ranks: each sends the whole 1.6 MB to the other (zero-copy)
  /// and copies what it receives, the same bytes per link as a 2-rank ring all-reduce.
  func testMeasureRawZeroMQExchange() throws {
    guard ProcessInfo.processInfo.environment["DLP_BENCH"] != nil else {
      throw XCTSkip("set DLP_BENCH=1 (and build with -c release) to measure")
    }
    let bytes = 1_628_200
    for endpointKind in ["tcp", "ipc"] {
      let barrier = ThreadBarrier(parties: 2)
      let board = Board(2)
      let tag = UUID().uuidString
      let results = RankThreads.run(2) { rank -> [Double] in
        let ctx = try ZMQContext()
        let pull = try ZMQSocket(context: ctx, kind: .pull)
        board.set(
          rank,
          try pull.bind(
            endpointKind == "tcp" ? "tcp://127.0.0.1:*" : "ipc:///tmp/raw-\(tag)-\(rank)"))
        try barrier.wait()
        let push = try ZMQSocket(context: ctx, kind: .push)
        try push.connect(board.get(1 - rank))
        let buf = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        let out = UnsafeMutableRawBufferPointer.allocate(byteCount: bytes, alignment: 64)
        defer {
          buf.deallocate()
          out.deallocate()
        }
        buf.initializeMemory(as: UInt8.self, repeating: 1)
        let tracker = ZeroCopyTracker()
        var times: [Double] = []
        let m = ZMQMessage()
        for i in 0..<220 {
          try barrier.wait()
          let t0 = DispatchTime.now().uptimeNanoseconds
          try push.sendZeroCopy(UnsafeRawBufferPointer(buf), tracker: tracker)
          try pull.receiveFrame(into: m, timeout: 5)
          out.baseAddress!.copyMemory(from: m.bytes.baseAddress!, byteCount: bytes)
          tracker.waitUntilDrained(timeout: 5)
          let t1 = DispatchTime.now().uptimeNanoseconds
          if i >= 20 { times.append(Double(t1 - t0) / 1e9) }
        }
        push.close(linger: 1)
        return times
      }
      let a = try results[0].get()
      let b = try results[1].get()
      let m = zip(a, b).map { max($0, $1) }.sorted()
      print(
        String(
          format: "raw %@ exchange 1.6MB both ways: median %.3f ms min %.3f ms", endpointKind,
          m[m.count / 2] * 1e3, m[0] * 1e3))
    }
  }
}
