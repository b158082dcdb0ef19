import ArgumentParser
import DLP
import DLPCluster
import DLPTransport
import Foundation

extension CollectiveKind: ExpressibleByArgument {
  public init?(argument: String) { self.init(name: argument) }
  public static var allValueStrings: [String] { ["ring", "central"] }
}

extension RingTransport: ExpressibleByArgument {}

/// Flags about where and how a job runs, shared by train, evaluate and kfold.
struct RunOptions: ParsableArguments {
  @Option(help: "Seed for weights, shuffling and dropout.") var seed: UInt64 = 0
  @Option(help: "Worker processes (0: train in this process).") var workers: Int = 0
  @Option(help: "BLAS threads per process (default: all cores in-process, 1 per worker).") var threads: Int?
  @Option(help: "Collective for gradients: ring or central.") var allreduce: CollectiveKind = .ring
  @Option(
    help: "How the ring moves gradients and weights (train, evaluate): auto (shared memory when every worker is on this host, else tcp), tcp, or shm. K-fold groups use tcp.")
  var transport: RingTransport = .auto
  @Option(help: "Write the report JSON here (atomically).") var report: String?
  @Flag(help: "No progress output.") var quiet = false
  @OptionGroup var cluster: ClusterFlags

  func validate() throws {
    if workers < 0 { throw ValidationError("--workers must be >= 0") }
    if let t = threads, t < 1 { throw ValidationError("--threads must be >= 1") }
    if transport == .shm && allreduce != .ring { throw ValidationError("--transport shm applies to --allreduce ring") }
    if workers > 0 && cluster.minWorkers > workers {
      throw ValidationError("--min-workers \(cluster.minWorkers) is more than --workers \(workers)")
    }
  }

  var progress: ProgressPrinter { ProgressPrinter(mode: quiet ? .silent : nil) }

  /// The coordinator's settings for a job of `workers` workers bound at `bind`.
  func coordinatorOptions(bind: String, workers: Int, shipData: Bool = false) -> CoordinatorOptions {
    CoordinatorOptions(
      bind: bind, expectWorkers: workers, collective: allreduce, shipData: shipData, transport: transport,
      minWorkers: cluster.minWorkers, rejoinTimeout: cluster.rejoinTimeout,
      heartbeat: HeartbeatSettings(timeout: cluster.heartbeatTimeout), collectiveTimeout: cluster.collectiveTimeout)
  }
}

/// How a job on workers rides out trouble: timeouts, lost workers, restarts.
struct ClusterFlags: ParsableArguments {
  @Option(
    help: "Seconds without a heartbeat before a worker is given up (a worker gives up a coordinator silent twice as long).")
  var heartbeatTimeout: Double = 10
  @Option(help: "Seconds a collective waits for a peer before the generation is re-formed.")
  var collectiveTimeout: Double = 30
  @Option(help: "Fewest workers a training job goes on with; below, it waits --rejoin-timeout for new ones, then stops.")
  var minWorkers: Int = 1
  @Option(help: "Seconds to wait for workers to (re)join when fewer than --min-workers are left.")
  var rejoinTimeout: Double = 60
  @Option(help: "Local workers (--workers N) that crash are restarted, this many times in all.")
  var maxRestarts: Int = 3

  func validate() throws {
    for (name, v) in [
      ("--heartbeat-timeout", heartbeatTimeout), ("--collective-timeout", collectiveTimeout),
      ("--rejoin-timeout", rejoinTimeout),
    ] where !(v > 0 && v < 1e6) {
      throw ValidationError("\(name) must be a positive number of seconds below 1e6")
    }
    if minWorkers < 1 { throw ValidationError("--min-workers must be >= 1") }
    if maxRestarts < 0 { throw ValidationError("--max-restarts must be >= 0") }
  }
}

/// Exact checkpoints of a training job, and resuming from them.
struct CheckpointFlags: ParsableArguments {
  @Option(
    help: "Write a checkpoint (weights, optimizer state, where training is) here at every epoch's end and every --checkpoint-every steps.")
  var checkpointDir: String?
  @Option(help: "Also checkpoint after every this many training steps.") var checkpointEvery: Int?
  @Option(help: "Checkpoints kept in --checkpoint-dir (the newest).") var keepCheckpoints: Int = 3
  @Option(help: "Continue from the newest valid checkpoint in this folder (the same job flags required).")
  var resume: String?

  func validate() throws {
    if let n = checkpointEvery, n < 1 { throw ValidationError("--checkpoint-every must be >= 1") }
    if keepCheckpoints < 1 { throw ValidationError("--keep-checkpoints must be >= 1") }
    if checkpointEvery != nil && checkpointDir == nil {
      throw ValidationError("--checkpoint-every needs --checkpoint-dir")
    }
  }

  /// The store checkpoints are written to (`--checkpoint-dir`, else the `--resume` folder).
  func store() throws -> CheckpointStore? {
    guard let dir = checkpointDir else { return nil }
    return try CheckpointStore(directory: dir, keep: keepCheckpoints)
  }

  /// The newest valid checkpoint of `--resume`, checked against this job's `flags`; nil (with a
  /// note) when the folder holds none yet.
  func resumePoint(flags: [String: String]) throws -> (checkpoint: Checkpoint, path: String)? {
    guard let dir = resume else { return nil }
    let store = try CheckpointStore(directory: dir)
    let warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
    guard let found = store.newest(warn: warn) else {
      warn("--resume \(dir): no checkpoint there yet; starting from the beginning")
      return nil
    }
    if let different = found.checkpoint.mismatch(with: flags) {
      throw DLPError.config("cannot resume from \(found.path): \(different)")
    }
    return found
  }
}
