import ArgumentParser
import DLP
import DLPCluster
import Foundation

/// `dlp-worker`: joins a coordinator and trains its shard of every batch.
public struct WorkerCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "dlp-worker", abstract: "Join a DLP coordinator as a worker.")

  @Option(help: "The coordinator's endpoint, tcp://HOST:PORT.") var connect: String
  @Option(help: "BLAS threads.") var threads: Int = 1
  @Option(help: "This worker's identity (default: HOSTNAME-PID).") var workerID: String?
  @Option(help: "Address other workers reach this one at (default: the route to the coordinator).") var advertise: String?
  @Option(
    help: "Exit when no coordinator hands out a job within this many seconds (once a job runs, its heartbeats tell when the coordinator is gone).")
  var idleTimeout: Double = 600
  @Flag(help: "Exit when the parent process exits (set by dlp train --workers).") var exitWithParent = false
  @Option(help: .hidden) var benchRank: Int?

  public init() {}

  public func run() throws {
    guard connect.hasPrefix("tcp://") || connect.hasPrefix("ipc://") else {
      throw ValidationError("--connect must be tcp://HOST:PORT")
    }
    if exitWithParent { ParentWatch.start() }
    // `dlp bench allreduce` starts its ranks as `dlp-worker --connect RENDEZVOUS --bench-rank R`.
    if let benchRank { return try runBenchRank(benchRank) }
    BLAS.enableFlushToZero(threads: threads)
    let id = workerID ?? "\(ProcessInfo.processInfo.hostName)-\(getpid())"
    do {
      try Worker(options: WorkerOptions(connect: connect, threads: threads, workerID: id, advertiseHost: advertise, joinTimeout: idleTimeout)).run()
    } catch {
      FileHandle.standardError.write(Data("dlp-worker \(id): error: \(error)\n".utf8))
      throw ExitCode(1)
    }
  }
}

/// Ends a locally launched worker soon after its parent dies, so no orphan outlives a killed
/// `dlp train` (prctl's PDEATHSIG is variadic C, which Swift cannot call).
enum ParentWatch {
  static func start() {
    let parent = getppid()
    let t = Thread {
      while getppid() == parent { Thread.sleep(forTimeInterval: 0.2) }
      _exit(1)
    }
    t.start()
  }
}

/// `dlp-coordinator`: a job whose workers connect from other hosts.
public struct CoordinatorCommand: ParsableCommand {
  public static let configuration = CommandConfiguration(
    commandName: "dlp-coordinator", abstract: "Run a training job for workers that connect over TCP.")

  @Option(help: "Endpoint to listen on, tcp://HOST:PORT.") var bind: String
  @Option(help: "Workers to wait for.") var expectWorkers: Int
  @Flag(help: "Send the dataset to the workers (when they have no copy).") var shipData = false
  @OptionGroup var arguments: TrainArguments

  public init() {}

  public func run() throws {
    try reportingErrors {
      guard expectWorkers >= 1 else { throw DLPError.config("--expect-workers must be >= 1") }
      try arguments.execute(placement: .external(bind: bind, expectWorkers: expectWorkers, shipData: shipData))
    }
  }
}
