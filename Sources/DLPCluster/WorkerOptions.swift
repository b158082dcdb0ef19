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
  /// Give up if the coordinator says nothing for this long once the job runs.
  public var idleTimeout: Double

  public init(connect: String, threads: Int = 1, workerID: String, advertiseHost: String? = nil, idleTimeout: Double = 120) {
    self.connect = connect
    self.threads = threads
    self.workerID = workerID
    self.advertiseHost = advertiseHost
    self.idleTimeout = idleTimeout
  }
}
