import Foundation

/// The client public keys a process's CURVE servers admit, each with a name for log lines
/// (its key file's name, or "worker 3"). Thread-safe: the ZAP handler reads it on its own
/// thread while the owner adds keys (a worker learns its ring peers' keys from the job spec).
public final class AuthorizedKeys: @unchecked Sendable {
  private let lock = NSLock()
  private var names: [CurveKey: String]

  public init(_ keys: [String: CurveKey] = [:]) {
    names = [:]
    for (name, key) in keys.sorted(by: { $0.key < $1.key }) where names[key] == nil {
      names[key] = name
    }
  }

  /// Admits `key` from now on (connections already refused stay refused until they retry).
  public func insert(_ key: CurveKey, name: String) {
    lock.lock()
    names[key] = name
    lock.unlock()
  }

  public func remove(_ key: CurveKey) {
    lock.lock()
    names[key] = nil
    lock.unlock()
  }

  /// The name `key` was admitted under, or nil when it is not admitted.
  public func name(of key: CurveKey) -> String? {
    lock.lock()
    defer { lock.unlock() }
    return names[key]
  }

  public var count: Int {
    lock.lock()
    defer { lock.unlock() }
    return names.count
  }
}
