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
  /// Give up if the coordinator says nothing for this long once the job runs.
  public var idleTimeout: Double
  /// CURVE for every socket the worker opens: its key pair, the coordinator's public key
  /// (`serverKey`), and for its ring listener the peers it admits (added from the job spec).
  public var security: SecurityOptions = .insecure
  /// This worker's own limits, overriding the job's when set (`--heartbeat-timeout`,
  /// `--collective-timeout` on dlp-worker); nil: what the coordinator's job spec says.
  public var heartbeatTimeout: Double? = nil
  public var collectiveTimeout: Double? = nil

  public init(connect: String, threads: Int = 1, workerID: String, advertiseHost: String? = nil, idleTimeout: Double = 120) {
    self.connect = connect
    self.threads = threads
    self.workerID = workerID
    self.advertiseHost = advertiseHost
    self.idleTimeout = idleTimeout
  }
}
