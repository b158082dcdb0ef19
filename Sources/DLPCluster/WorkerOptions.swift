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

  public init(connect: String, threads: Int = 1, workerID: String, advertiseHost: String? = nil, joinTimeout: Double = 600) {
    self.connect = connect
    self.threads = threads
    self.workerID = workerID
    self.advertiseHost = advertiseHost
    self.joinTimeout = joinTimeout
  }
}
