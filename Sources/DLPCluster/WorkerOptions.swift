import DLPTransport

/// How a `dlp-worker` process joins a job.
public struct WorkerOptions: Sendable {
  /// The coordinator's control endpoint, `tcp://HOST:PORT`.
  public var connect: String
  public var threads: Int
  /// A stable identity (default: hostname-pid).
  public var workerID: String
  /// The address other workers reach this one at (its ring listener); default: the local
  /// address used to reach the coordinator.
  public var advertiseHost: String?
  /// How long to wait for the coordinator to hand out a job. Once a job runs, the
  /// coordinator's heartbeats tell when it is gone (twice the job's heartbeat timeout).
  public var joinTimeout: Double
  /// Fault injection for tests that run workers on threads: at the training step with this many
  /// steps before it, the worker vanishes as a host that lost power would (no more heartbeats,
  /// its sockets closed without a word).
  public var vanishAtTrainStep: UInt64?
  /// CURVE for every socket the worker opens: its key pair, the coordinator's public key
  /// (`serverKey`), and for its ring listener the peers it admits (added from the job spec).
  public var security: SecurityOptions = .insecure
  /// This worker's own limits, overriding the job's when set (`--heartbeat-timeout`,
  /// `--collective-timeout` on dlp-worker); nil: what the coordinator's job spec says.
  public var heartbeatTimeout: Double? = nil
  public var collectiveTimeout: Double? = nil
  /// How long a worker that reported a fatal error waits for the coordinator's Shutdown before
  /// it exits. ZeroMQ sends from its I/O thread, and a process that exits right after queueing
  /// a message can take it along (seen under load: the coordinator then declared the worker
  /// lost 10 s later instead of printing its error); the coordinator answers every fatal
  /// report with a Shutdown, so the wait is normally a round trip.
  public var reportGrace: Double = 5

  public init(connect: String, threads: Int = 1, workerID: String, advertiseHost: String? = nil, joinTimeout: Double = 600) {
    self.connect = connect
    self.threads = threads
    self.workerID = workerID
    self.advertiseHost = advertiseHost
    self.joinTimeout = joinTimeout
  }
}
