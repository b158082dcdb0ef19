/// The endpoints a job derives from its control endpoint. Over tcp the coordinator's other
/// sockets (heartbeats, the central root) bind on the control endpoint's host with ports the
/// kernel picks, which the job spec or `Reconfigure` tells the workers; workers' ring listeners
/// bind on the address that faces the coordinator. Over `inproc://` (a coordinator and its
/// workers on threads of one process, as the tests run them) every endpoint is a name derived
/// from the control endpoint's.
enum SiblingEndpoints {
  static func isInProcess(_ endpoint: String) -> Bool { endpoint.hasPrefix("inproc://") }

  /// Where the coordinator binds its heartbeat ROUTER.
  static func heartbeatBind(control: String) -> String {
    isInProcess(control) ? "\(control)-heartbeats" : "tcp://\(Endpoint.host(of: control) ?? "127.0.0.1"):*"
  }

  /// Where a worker connected to `connect` finds the heartbeat ROUTER on `port`.
  static func heartbeatConnect(control connect: String, port: Int) -> String {
    isInProcess(connect) ? "\(connect)-heartbeats" : Endpoint.tcp(Endpoint.host(of: connect) ?? "127.0.0.1", port)
  }

  /// Where the coordinator binds a generation's central root.
  static func centralBind(control: String, generation: UInt64) -> String {
    isInProcess(control) ? "\(control)-central-\(generation)" : "tcp://\(Endpoint.host(of: control) ?? "127.0.0.1"):*"
  }

  /// Where a worker finds the generation's central root, on `port` over tcp.
  static func centralConnect(control connect: String, port: Int, generation: UInt64) -> String {
    isInProcess(connect)
      ? "\(connect)-central-\(generation)" : Endpoint.tcp(Endpoint.host(of: connect) ?? "127.0.0.1", port)
  }
}
