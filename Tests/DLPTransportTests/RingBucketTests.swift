import DLPTransport
import Foundation
import XCTest

/// The ring's reduce-scatter driven piece by piece (`beginReduceScatter`): gradient buckets that
/// backward hands over layer by layer, last layer first.
final class RingBucketTests: XCTestCase {
  /// Layer-like pieces of a buffer of `count`, in the order backward produces them (last first).
  static func backwardOrder(count: Int, cuts: [Int]) -> [Range<Int>] {
    let bounds = [0] + cuts.filter { $0 > 0 && $0 < count } + [count]
    return zip(bounds, bounds.dropFirst()).map { $0..<$1 }.reversed()
  }

  func testBucketedMatchesPlainReduceScatterBitForBit() throws {
    // Sizes and cuts that put pieces across chunk (16 elements) and shard boundaries.
    let cases: [(count: Int, cuts: [Int])] = [
      (1000, [320, 333, 700, 999]), (4099, [1, 17, 2048, 2049, 4000]), (5, [2]),
      (64, [16, 32, 48]),
    ]
    for n in 1...4 {
      for (count, cuts) in cases {
        let pieces = Self.backwardOrder(count: count, cuts: cuts)
        let results = withRing(ranks: n, chunkBytes: 64) { rank, ring -> ([Float], [Float]) in
          var plain = randomInput(rank: rank, count: count)
          try plain.withUnsafeMutableBufferPointer { _ = try ring.reduceScatter($0, step: 1) }
          var bucketed = randomInput(rank: rank, count: count)
          let owned = try bucketed.withUnsafeMutableBufferPointer { b -> Range<Int> in
            let session = try ring.beginReduceScatter(b, step: 2, tensorID: 0)
            // Each rank hands its pieces over in its own order: the sum must not care.
            for piece in rank % 2 == 0 ? pieces : pieces.reversed() { try session.ready(piece) }
            return try session.finish()
          }
          XCTAssertEqual(owned, ring.ownedRange(count: count))
          return (Array(plain[owned]), Array(bucketed[owned]))
        }
        for (rank, r) in results.enumerated() {
          let (plain, bucketed) = try r.get()
          XCTAssertEqual(
            plain.map(\.bitPattern), bucketed.map(\.bitPattern),
            "n=\(n) count=\(count) rank \(rank)")
        }
      }
    }
  }

  func testClosedFormSumsThenAllGatherAfterBuckets() throws {
    let n = 3
    let count = 2500
    let pieces = Self.backwardOrder(count: count, cuts: [100, 900, 1700, 2400])
    let results = withRing(ranks: n, chunkBytes: 256) { rank, ring -> [Float] in
      var weights = [Float](repeating: 0, count: count)
      for step in 1...3 {
        var grads = closedFormInput(rank: rank, count: count)
        let owned = try grads.withUnsafeMutableBufferPointer { b -> Range<Int> in
          let session = try ring.beginReduceScatter(b, step: UInt64(step), tensorID: 0)
          // Only some pieces are handed over: finish marks the rest.
          for piece in pieces.prefix(2) { try session.ready(piece) }
          return try session.finish()
        }
        for i in owned {
          guard grads[i] == closedFormSum(ranks: n, index: i) else {
            throw TransportError.invalidArgument("step \(step) element \(i): \(grads[i])")
          }
          weights[i] = -grads[i] * Float(step)
        }
        try weights.withUnsafeMutableBufferPointer {
          try ring.allGather($0, step: UInt64(step), tensorID: 0)
        }
      }
      return weights
    }
    for r in results {
      let w = try r.get()
      for i in 0..<count { XCTAssertEqual(w[i], -3 * closedFormSum(ranks: n, index: i)) }
    }
  }

  /// The chunks of a ready piece leave at once: rank 1 finishes its reduce-scatter, which needs
  /// rank 0's values of rank 1's shard, while rank 0 has only called `ready` and waits for rank
  /// 1 before calling `finish`.
  func testReadyPiecesMoveBeforeFinish() throws {
    let count = 1000
    let rank1Finished = Signal()
    let results = withRing(ranks: 2, chunkBytes: 64) { rank, ring -> [Float] in
      var grads = closedFormInput(rank: rank, count: count)
      try grads.withUnsafeMutableBufferPointer { b in
        let session = try ring.beginReduceScatter(b, step: 0, tensorID: 0)
        if rank == 0 {
          try session.ready(ring.shardPlan(count: count).range(1))
          guard rank1Finished.wait() else {
            throw TransportError.invalidArgument("rank 1 could not finish before rank 0 did")
          }
          try session.ready(ring.ownedRange(count: count))
          _ = try session.finish()
        } else {
          try session.ready(0..<count)
          _ = try session.finish()
          rank1Finished.raise()
        }
      }
      return Array(grads[ring.ownedRange(count: count)])
    }
    for (rank, r) in results.enumerated() {
      let owned = ShardPlan(count: count, parts: 2).range(rank)
      XCTAssertEqual(try r.get(), owned.map { closedFormSum(ranks: 2, index: $0) })
    }
  }

  func testMisuseIsAClearErrorAndBreaksNothing() throws {
    let results = withRing(ranks: 2, chunkBytes: 64) { rank, ring -> [String] in
      var b = closedFormInput(rank: rank, count: 100)
      var errors: [String] = []
      try b.withUnsafeMutableBufferPointer { buffer in
        let session = try ring.beginReduceScatter(buffer, step: 0, tensorID: 0)
        try session.ready(10..<20)
        for bad in [15..<30, 90..<101, -1..<3] {
          do { try session.ready(bad) } catch let e as TransportError { errors.append("\(e)") }
        }
        _ = try session.finish()
        do { _ = try session.finish() } catch let e as TransportError { errors.append("\(e)") }
      }
      // The ring is still up.
      var c = closedFormInput(rank: rank, count: 100)
      try c.withUnsafeMutableBufferPointer { try ring.run($0, step: 1, tensorID: 0) }
      XCTAssertEqual(c, (0..<100).map { closedFormSum(ranks: 2, index: $0) })
      return errors
    }
    for r in results {
      let errors = try r.get()
      XCTAssertEqual(errors.count, 4, "\(errors)")
      XCTAssertTrue(errors[0].contains("overlaps"), "\(errors)")
      XCTAssertTrue(errors[1].contains("outside"), "\(errors)")
      XCTAssertTrue(errors[3].contains("finished"), "\(errors)")
    }
  }

  func testOtherCallsWaitForTheSessionToFinish() throws {
    let results = withRing(ranks: 1) { _, ring -> String in
      var b = [Float](repeating: 1, count: 10)
      return try b.withUnsafeMutableBufferPointer { buffer -> String in
        let session = try ring.beginReduceScatter(buffer, step: 0, tensorID: 0)
        defer { _ = try? session.finish() }
        do {
          try ring.run(buffer, step: 0)
        } catch let e as TransportError {
          return "\(e)"
        }
        return "no error"
      }
    }
    XCTAssertTrue(try results[0].get().contains("not finished"), "\(results)")
  }

  /// A collective that cannot stream gets the default session: the whole reduce-scatter runs
  /// in `finish`.
  func testDefaultSessionRunsTheReduceScatterInFinish() throws {
    let fake = CountingCollective()
    var b = [Float](repeating: 1, count: 10)
    try b.withUnsafeMutableBufferPointer { buffer in
      let session = try fake.beginReduceScatter(buffer, step: 4, tensorID: 2)
      try session.ready(0..<5)
      XCTAssertEqual(fake.calls, [])
      XCTAssertThrowsError(try session.ready(4..<6))
      XCTAssertEqual(try session.finish(), 0..<10)
      XCTAssertEqual(fake.calls, ["reduceScatter step 4 tensor 2"])
    }
  }
}

/// Records what it was asked to do.
private final class CountingCollective: ShardedCollective, @unchecked Sendable {
  var calls: [String] = []
  var rank: Int { 0 }
  var worldSize: Int { 1 }
  func run(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32) throws {
    calls.append("run")
  }
  func close() {}
  func reduceScatter(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32)
    throws -> Range<Int>
  {
    calls.append("reduceScatter step \(step) tensor \(tensorID)")
    return 0..<buffer.count
  }
  func allGather(_ buffer: UnsafeMutableBufferPointer<Float>, step: UInt64, tensorID: UInt32) {
    calls.append("allGather")
  }
  func ownedRange(count: Int) -> Range<Int> { 0..<count }
}

/// How much of the convnet's reduce-scatter bucketing hides behind backward. Runs only with
/// DLP_RING_OVERLAP_BENCH=<backward ms> (timings depend on the machine and its load): two ranks
/// over tcp run steps of a simulated backward (arithmetic for that long) and a reduce-scatter of
/// the convnet's 93,322 gradients, either all after the backward or layer by layer as it
/// produces them (dense_1 and dense at once, conv2d_2 after 10% of the backward, conv2d_1 and
/// conv2d at its end: the schedule `ConvBenchmarkTests` measures), and print the median step
/// time (the slower rank's, from a common start) of each.
final class RingOverlapBenchmarkTests: XCTestCase {
  func testConvnetBucketsAgainstOneReduceScatter() throws {
    guard
      let ms = ProcessInfo.processInfo.environment["DLP_RING_OVERLAP_BENCH"].flatMap(Double.init)
    else {
      throw XCTSkip(
        "set DLP_RING_OVERLAP_BENCH=<backward ms, e.g. 5> to time bucketed reduce-scatters")
    }
    let count = 93_322
    let layers = [0..<320, 320..<18_816, 18_816..<55_744, 55_744..<92_672, 92_672..<93_322]
    @Sendable func compute(_ seconds: Double) {
      let end = DispatchTime.now().uptimeNanoseconds + UInt64(seconds * 1e9)
      var x: Float = 1
      while DispatchTime.now().uptimeNanoseconds < end {
        for _ in 0..<1000 { x = x * 1.0000001 + 1e-7 }
      }
      if x.isNaN { print(x) }
    }
    let steps = 60
    let barrier = ThreadBarrier(parties: 2)
    let results = withRing(ranks: 2, chunkBytes: RingAllReduce.Options.defaultChunkBytes) {
      rank, ring -> [Double] in
      var g = randomInput(rank: rank, count: count)
      var times: [Double] = []
      for step in 0..<steps {
        try barrier.wait()
        let t = DispatchTime.now().uptimeNanoseconds
        try g.withUnsafeMutableBufferPointer { b in
          if step % 2 == 0 {
            compute(ms / 1000)
            _ = try ring.reduceScatter(b, step: UInt64(step), tensorID: 0)
          } else {
            let s = try ring.beginReduceScatter(b, step: UInt64(step), tensorID: 0)
            try s.ready(layers[4])
            try s.ready(layers[3])
            compute(ms * 0.1 / 1000)
            try s.ready(layers[2])
            compute(ms * 0.9 / 1000)
            try s.ready(layers[1])
            _ = try s.finish()
          }
        }
        times.append(Double(DispatchTime.now().uptimeNanoseconds - t) / 1e6)
      }
      return times
    }
    let perRank = try results.map { try $0.get() }
    let slowest = (0..<steps).map { i in perRank.map { $0[i] }.max()! }
    func median(_ v: [Double]) -> Double { v.sorted()[v.count / 2] }
    let plain = median(stride(from: 0, to: steps, by: 2).map { slowest[$0] })
    let bucketed = median(stride(from: 1, to: steps, by: 2).map { slowest[$0] })
    print(
      String(
        format:
          "step of a %.1f ms backward + reduce-scatter: all at the end %.3f ms, in buckets %.3f ms (medians of %d)",
        ms, plain, bucketed, steps / 2))
  }
}
