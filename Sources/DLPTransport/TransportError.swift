/// Every failure of the transport layer: ZeroMQ calls, message validation, collectives.
///
/// Errors caused by a peer carry its rank (`peer`, nil where the rank is unknown, e.g. a
/// stranger connected to a listener) so the coordinator can tell which worker to drop. A peer can
/// never make this layer trap: hostile or truncated input always ends up as one of these.
public enum TransportError: Error, CustomStringConvertible, Equatable, Sendable {
  /// A ZeroMQ call failed; `message` is `zmq_strerror`'s text.
  case zmq(operation: String, errno: Int32, message: String)
  /// A socket call of the stream ring failed; `message` is `strerror`'s text.
  case system(operation: String, errno: Int32, message: String)
  /// Nothing (or not everything) arrived from `peer` within `seconds`.
  case timeout(peer: Int?, operation: String, seconds: Double)
  /// The frames from `peer` are not a well-formed DLP message (truncated, garbage, bad sizes).
  case malformed(peer: Int?, String)
  /// `peer` speaks another protocol version.
  case versionMismatch(peer: Int?, expected: UInt32, got: UInt32)
  /// The message belongs to another job.
  case wrongJob(peer: Int?, expected: UInt64, got: UInt64)
  /// The message is for another step (a lagging or runaway peer).
  case unexpectedStep(peer: Int?, expected: UInt64, got: UInt64)
  /// The message is of a kind the receiver does not accept here.
  case unexpectedKind(peer: Int?, expected: [MessageKind], got: MessageKind)
  /// The message is bigger than the receiver's cap.
  case tooLarge(peer: Int?, bytes: Int, limit: Int)
  /// `peer` is not (or no longer) connected: a send to it could not be delivered.
  case unreachable(peer: Int?, String)
  /// The operation was cancelled through a `Cancellation`.
  case cancelled(operation: String)
  /// The caller used the API wrongly (bad rank, buffer size that changed, closed socket).
  case invalidArgument(String)

  /// The rank of the peer at fault, when known.
  public var peer: Int? {
    switch self {
    case .timeout(let p, _, _), .malformed(let p, _), .versionMismatch(let p, _, _),
      .wrongJob(let p, _, _), .unexpectedStep(let p, _, _), .unexpectedKind(let p, _, _),
      .tooLarge(let p, _, _), .unreachable(let p, _):
      return p
    case .zmq, .system, .cancelled, .invalidArgument:
      return nil
    }
  }

  public var description: String {
    func from(_ p: Int?) -> String { p.map { " from peer rank \($0)" } ?? "" }
    switch self {
    case .zmq(let op, let errno, let message):
      return "transport error: \(op) failed: \(message) (errno \(errno))"
    case .system(let op, let errno, let message):
      return "transport error: \(op) failed: \(message) (errno \(errno))"
    case .timeout(let p, let op, let s):
      let who = p.map { "peer rank \($0)" } ?? "peer"
      return "transport error: \(op): no answer from \(who) within \(s) s"
    case .malformed(let p, let m):
      return "transport error: malformed message\(from(p)): \(m)"
    case .versionMismatch(let p, let e, let g):
      return "transport error: protocol version \(g)\(from(p)), expected \(e)"
    case .wrongJob(let p, let e, let g):
      return "transport error: message for job \(g)\(from(p)), expected job \(e)"
    case .unexpectedStep(let p, let e, let g):
      return "transport error: message for step \(g)\(from(p)), expected step \(e)"
    case .unexpectedKind(let p, let e, let g):
      return
        "transport error: unexpected \(g) message\(from(p)), expected \(e.map(\.description).joined(separator: " or "))"
    case .tooLarge(let p, let b, let l):
      return "transport error: \(b)-byte message\(from(p)) exceeds the \(l)-byte limit"
    case .unreachable(let p, let m):
      let who = p.map { "peer rank \($0)" } ?? "peer"
      return "transport error: \(who) is unreachable: \(m)"
    case .cancelled(let op):
      return "transport error: \(op) cancelled"
    case .invalidArgument(let m):
      return "transport error: \(m)"
    }
  }
}
