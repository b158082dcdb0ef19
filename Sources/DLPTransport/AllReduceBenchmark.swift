import Foundation

/// Times all-reduces of a float32 buffer among N ranks, the figures `dlp bench allreduce`
/// reports: the median time per call and the bus bandwidth 2(N-1)/N * bytes / time, which is
/// comparable across rank counts (nccl-tests' definition).
public enum AllReduceBenchmark {
  public struct Result: Sendable, Equatable, Codable {
    public var workers: Int
    public var bytes: Int
    public var iterations: Int
    public var collective: String
    public var transport: String
    /// Median over iterations of the slowest rank's time per all-reduce.
    public var medianSeconds: Double
    public var minSeconds: Double
    /// 2(N-1)/N * bytes / medianSeconds / 1e9.
    public var busGBps: Double
  }

  /// Where simulated ranks talk: tcp on loopback (like separate processes on one host), ipc
  /// (Unix domain sockets, same host only), or inproc (one shared context; a lower bound on the
  /// protocol's own cost).
  public enum Transport: String, Sendable, CaseIterable {
    case tcp
    case ipc
    case inproc

    func endpoint(tag: String, rank: Int) -> String {
      switch self {
      case .tcp: return "tcp://127.0.0.1:*"
      case .ipc: return "ipc://\(NSTemporaryDirectory())dlp-\(tag)-\(rank)"
      case .inproc: return "inproc://bench-\(tag)-\(rank)"
      }
    }
  }

  /// Bus bandwidth in GB/s for an all-reduce of `bytes` among `workers` taking `seconds`.
  public static func busBandwidth(workers: Int, bytes: Int, seconds: Double) -> Double {
    guard workers > 1, seconds > 0 else { return 0 }
    return 2 * Double(workers - 1) / Double(workers) * Double(bytes) / seconds / 1e9
  }

  /// Runs `workers` ranks as threads (each with its own ZeroMQ context over tcp or ipc, as
  /// separate processes would have), all-reducing `bytes` of float32 `iterations` times after `warmup`
  /// untimed calls, and checks the result.
  public static func run(
    workers: Int, bytes: Int, iterations: Int = 20, collective: CollectiveKind = .ring,
    warmup: Int = 3,
    transport: Transport = .tcp, chunkBytes: Int = RingAllReduce.Options.defaultChunkBytes,
    timeout: Double = 30
  ) throws -> Result {
    guard workers >= 1, bytes >= 0, iterations >= 1 else {
      throw TransportError.invalidArgument(
        "benchmark needs workers >= 1, bytes >= 0, iterations >= 1")
    }
    let count = bytes / 4
    let shared = transport == .inproc ? try ZMQContext() : nil
    let barrier = ThreadBarrier(parties: workers)
    let endpoints = EndpointBoard(count: workers)
    let tag = UUID().uuidString
    let results = RankThreads.run(workers) { rank -> [Double] in
      do {
        let context = try shared ?? ZMQContext()
        let bind = transport.endpoint(tag: tag, rank: rank)
        let c: AllReduceCollective
        switch collective {
        case .ring:
          let options = RingAllReduce.Options(
            rank: rank, worldSize: workers, chunkBytes: chunkBytes, timeout: timeout)
          let listener =
            workers > 1
            ? try CollectiveListener(context: context, bind: bind, maxChunkBytes: chunkBytes) : nil
          endpoints.set(rank, listener?.endpoint ?? "")
          try barrier.wait()
          c = try RingAllReduce(
            context: context, listener: listener, nextEndpoint: endpoints.get((rank + 1) % workers),
            options: options)
        case .central:
          let options = CentralAllReduce.Options(
            rank: rank, worldSize: workers, chunkBytes: chunkBytes, timeout: timeout)
          if rank == 0 {
            let root = try CentralAllReduce(context: context, endpoint: bind, options: options)
            endpoints.set(0, root.endpoint ?? "")
            try barrier.wait()
            c = root
          } else {
            try barrier.wait()
            c = try CentralAllReduce(context: context, endpoint: endpoints.get(0), options: options)
          }
        }
        defer { c.close() }
        let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        let times = try time(c, buffer: buffer, iterations: iterations, warmup: warmup) {
          // Refill with small integers so every call's sum is exact and checkable.
          buffer.update(repeating: Float(rank + 1))
          try barrier.wait()
        }
        let expected = Float(workers * (workers + 1) / 2)
        if let bad = buffer.firstIndex(where: { $0 != expected }) {
          throw TransportError.invalidArgument(
            "rank \(rank): element \(bad) is \(buffer[bad]) after the all-reduce, expected \(expected)"
          )
        }
        return times
      } catch {
        barrier.breakBarrier()
        throw error
      }
    }
    var perRank: [[Double]] = []
    for r in results { perRank.append(try r.get()) }
    // An all-reduce is done when its slowest rank is done.
    let slowest = (0..<iterations).map { i in perRank.map { $0[i] }.max() ?? 0 }.sorted()
    let median =
      slowest.count % 2 == 1
      ? slowest[slowest.count / 2]
      : (slowest[slowest.count / 2 - 1] + slowest[slowest.count / 2]) / 2
    return Result(
      workers: workers, bytes: bytes, iterations: iterations, collective: collective.description,
      transport: transport.rawValue,
      medianSeconds: median, minSeconds: slowest.first ?? 0,
      busGBps: busBandwidth(workers: workers, bytes: count * 4, seconds: median))
  }

  /// The timing loop one rank runs (threads here, processes in the CLI): `prepare` runs before
  /// each call, untimed (refill the buffer, then a barrier so ranks start together); returns
  /// the seconds of each timed call.
  public static func time(
    _ collective: AllReduceCollective, buffer: UnsafeMutableBufferPointer<Float>, iterations: Int,
    warmup: Int,
    prepare: () throws -> Void
  ) throws -> [Double] {
    var times: [Double] = []
    times.reserveCapacity(iterations)
    for i in 0..<(warmup + iterations) {
      try prepare()
      let start = DispatchTime.now().uptimeNanoseconds
      try collective.run(buffer, step: UInt64(i), tensorID: 0)
      let end = DispatchTime.now().uptimeNanoseconds
      if i >= warmup { times.append(Double(end - start) / 1e9) }
    }
    return times
  }
}

/// Endpoints published by rank threads during set-up.
final class EndpointBoard: @unchecked Sendable {
  private let lock = NSLock()
  private var values: [String]

  init(count: Int) { values = Array(repeating: "", count: count) }

  func set(_ i: Int, _ v: String) {
    lock.lock()
    values[i] = v
    lock.unlock()
  }

  func get(_ i: Int) -> String {
    lock.lock()
    defer { lock.unlock() }
    return values[i]
  }
}
