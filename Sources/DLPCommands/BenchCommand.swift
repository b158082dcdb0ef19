import ArgumentParser
import DLP
import DLPCluster
import DLPTransport
import Foundation

/// `dlp bench`: micro-benchmarks of the distributed machinery.
struct BenchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "bench", abstract: "Benchmarks of the distributed machinery.",
    subcommands: [BenchAllReduceCommand.self, BenchCurveCommand.self])
}

/// `dlp bench allreduce`: sums SIZE bytes of float32 across N worker processes with the chosen
/// collective and reports the median time per all-reduce and the bus bandwidth
/// 2(N-1)/N * SIZE / time / 1e9.
struct BenchAllReduceCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "allreduce",
    abstract: "Time all-reduces of float32 buffers among worker processes.",
    discussion: """
      Starts N dlp-worker processes (ranks), each with its own ZeroMQ context, as separate hosts \
      would have. Every iteration starts after a barrier (untimed); its time is the slowest \
      rank's. Every rank checks every result against the closed-form sum and the command fails \
      if one element is wrong.
      """)

  @Option(help: "Worker processes (ranks).") var workers: Int
  @Option(help: "Bytes of float32 per all-reduce: 1600000, 4MB (10^6), 16MiB (2^20), ...")
  var bytes: String
  @Option(help: "Timed iterations.") var iterations: Int = 20
  @Option(help: "Untimed iterations first.") var warmup: Int = 3
  @Option(help: "Collective: ring, or central (rank 0 is the root and contributes).") var allreduce: String = "ring"
  @Option(
    help:
      "How the ranks talk: auto (as dlp train: shm for the ring, its ranks all being on this host; tcp for central), tcp (loopback, as ranks on separate hosts), ipc (Unix domain sockets), or shm (ring only: floats and readiness through POSIX shared memory, set-up over tcp)."
  ) var transport: String = "auto"
  @Option(help: "Pieces the buffer is streamed in (default: the collective's, as in training).")
  var chunkBytes: String?
  @Option(help: "Longest wait for any one message, in seconds.") var timeout: Double = 30
  @Option(help: "Write the report JSON here (atomically).") var report: String?
  @Flag(help: "No summary line.") var quiet = false
  @Flag(help: "Encrypt every socket between the ranks with CURVE, as a secured job's are (what encryption costs).")
  var curve = false
  @Option(
    help:
      "The ring over tcp: stream (plain sockets, one thread per rank; not with --curve), zmq (ZeroMQ, as secured jobs run), or auto (stream unless --curve)."
  ) var tcpWire: String = "auto"
  @Option(
    help:
      "auto: bind each rank to a CPU of its own when the host has enough, as mpirun binds its ranks by default; none: let the scheduler place them."
  ) var bindCpus: String = "auto"

  /// The transport `--transport auto` runs, as `dlp train` picks it for workers on one host:
  /// the shared-memory ring, or tcp for the central collective (and a single rank).
  static func resolve(transport: String, collective: String, workers: Int) -> String {
    guard transport == "auto" else { return transport }
    return collective == "ring" && workers > 1 ? "shm" : "tcp"
  }

  func run() throws {
    do {
      guard ["auto", "tcp", "ipc", "shm"].contains(transport) else {
        throw BenchError("--transport must be auto, tcp, ipc or shm, got '\(transport)'")
      }
      let ran = Self.resolve(transport: transport, collective: allreduce, workers: workers)
      var config = ProcessAllReduceBench.Config(
        workers: workers, bytes: try ProcessAllReduceBench.parseSize(bytes), iterations: iterations,
        warmup: warmup, collective: allreduce, transport: ran,
        chunkBytes: try chunkBytes.map(ProcessAllReduceBench.parseSize), timeout: timeout, curve: curve)
      config.tcpWire = tcpWire
      config.bindCPUs = bindCpus
      let result = try ProcessAllReduceBench.run(config)
      // The report's "transport" is the one that ran; "transport_requested" what was asked.
      var summary = result.summary
      var json = result.json
      if transport != ran {
        summary = summary.replacingOccurrences(of: " over \(ran)", with: " over \(ran) (\(transport))")
      }
      if case .object(var o) = json {
        o["transport_requested"] = JSONValue(transport)
        json = .object(o)
      }
      if !quiet { printLine(summary) }
      if let report { try writeJSONAtomically(json, to: report) }
    } catch let e as BenchError {
      FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
      throw ExitCode(1)
    } catch let e as DLPError {
      FileHandle.standardError.write(Data("error: \(e.description)\n".utf8))
      throw ExitCode(1)
    }
  }
}

extension WorkerCommand {
  /// `dlp-worker --connect RENDEZVOUS --bench-rank R`: one rank of `dlp bench allreduce`.
  func runBenchRank(_ rank: Int) throws {
    do {
      try BenchRank.run(connect: connect, rank: rank)
    } catch {
      FileHandle.standardError.write(Data("dlp-worker bench rank \(rank): error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}

/// `dlp bench curve`: what CURVE encryption costs here, against plain ZeroMQ in the same run.
struct BenchCurveCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "curve", abstract: "Throughput and round trip over tcp loopback, plain ZeroMQ vs CURVE.",
    discussion: """
      Streams MESSAGES messages of SIZE bytes one way (PUSH to PULL, each side with its own \
      ZeroMQ context and I/O thread, as two processes have) and times 500 round trips of a \
      64-byte message, first in plain text, then with CURVE, ROUNDS times; prints the medians.
      """)

  @Option(help: "Bytes per bulk message: 4MiB (default), 1600000, ...") var bytes: String = "4MiB"
  @Option(help: "Bulk messages per round.") var messages: Int = 64
  @Option(help: "Rounds (plain then CURVE each round).") var rounds: Int = 3
  @Option(help: "Write the report JSON here (atomically).") var report: String?

  func run() throws {
    try reportingErrors {
      let size: Int
      do { size = try ProcessAllReduceBench.parseSize(bytes) } catch { throw DLPError.config("\(error)") }
      let result: CurveBenchmark.Result
      do {
        result = try CurveBenchmark.run(bytes: size, messages: messages, rounds: rounds)
      } catch let e as TransportError {
        throw DLPError.io(e.description)
      }
      printLine(result.summary)
      if let report {
        let figures = { (f: CurveBenchmark.Figures) -> JSONValue in
          .object(["bulk_gbps": JSONValue(f.bulkGBps), "round_trip_us": JSONValue(f.roundTripMicros)])
        }
        try writeJSONAtomically(
          .object([
            "bytes": JSONValue(result.bytes), "messages": JSONValue(result.messages), "rounds": JSONValue(result.rounds),
            "plain": figures(result.plain), "curve": figures(result.curve), "bulk_ratio": JSONValue(result.bulkRatio),
          ]), to: report)
      }
    }
  }
}
