import Foundation

/// Runs one body per rank, each on its own OS thread, and waits for all of them.
///
/// Ranks block in receives, so they need real threads: a Dispatch pool sized to the two cores
/// would run two ranks and leave the others, which they wait for, unscheduled.
public enum RankThreads {
  /// Runs `body(rank)` for rank 0..<count concurrently; returns each rank's result or error.
  public static func run<T: Sendable>(_ count: Int, _ body: @escaping @Sendable (Int) throws -> T)
    -> [Result<T, any Error>]
  {
    let results = ResultBox<T>(count: count)
    let group = DispatchGroup()
    for rank in 0..<count {
      group.enter()
      let thread = Thread {
        let result = Result { try body(rank) }
        results.set(rank, result)
        group.leave()
      }
      thread.stackSize = 8 << 20
      thread.name = "dlp-rank-\(rank)"
      thread.start()
    }
    group.wait()
    return results.values()
  }
}

private final class ResultBox<T: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var storage: [Result<T, any Error>?]

  init(count: Int) { storage = Array(repeating: nil, count: count) }

  func set(_ i: Int, _ r: Result<T, any Error>) {
    lock.lock()
    storage[i] = r
    lock.unlock()
  }

  func values() -> [Result<T, any Error>] {
    lock.lock()
    defer { lock.unlock() }
    return storage.map { $0! }
  }
}

/// A reusable barrier for rank threads, with a timeout and a way to break it, so one failing
/// rank releases the others instead of leaving them waiting forever.
public final class ThreadBarrier: @unchecked Sendable {
  private let condition = NSCondition()
  private let parties: Int
  private var arrived = 0
  private var generation = 0
  private var broken = false

  public init(parties: Int) { self.parties = parties }

  /// Waits until all parties have arrived; throws `.timeout` after `timeout` seconds or
  /// `.cancelled` when another party called `breakBarrier()`.
  public func wait(timeout: Double = 60) throws {
    condition.lock()
    defer { condition.unlock() }
    if broken { throw TransportError.cancelled(operation: "barrier") }
    let myGeneration = generation
    arrived += 1
    if arrived == parties {
      arrived = 0
      generation += 1
      condition.broadcast()
      return
    }
    let deadline = Date(timeIntervalSinceNow: timeout)
    while generation == myGeneration && !broken {
      if !condition.wait(until: deadline) && generation == myGeneration {
        broken = true
        condition.broadcast()
        throw TransportError.timeout(peer: nil, operation: "barrier", seconds: timeout)
      }
    }
    if generation == myGeneration { throw TransportError.cancelled(operation: "barrier") }
  }

  /// Releases every waiting party with an error, now and in future waits.
  public func breakBarrier() {
    condition.lock()
    broken = true
    condition.broadcast()
    condition.unlock()
  }
}
