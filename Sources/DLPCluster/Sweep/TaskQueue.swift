/// The bookkeeping of a K-fold sweep: which tasks wait, which worker runs which task, which are
/// done. Idle workers pull the next waiting task; a task lost with its worker goes back to the
/// FRONT of the queue, so it is redone first. A plain value: the coordinator's loop owns it.
/// (`FoldCoordinator` keys it by group id: a "worker" here is whatever runs one task.)
struct TaskQueue: Equatable {
  let count: Int
  /// Waiting tasks, by index into the sweep's task list, in the order they are handed out.
  private(set) var waiting: [Int]
  /// Worker -> the task it runs.
  private(set) var running: [Int: Int] = [:]
  private(set) var done: Set<Int> = []

  init(count: Int) {
    self.count = count
    waiting = Array(0..<count)
  }

  var isFinished: Bool { done.count == count }
  var isIdle: Bool { running.isEmpty }

  /// The task `worker` runs, if any.
  func task(of worker: Int) -> Int? { running[worker] }

  /// Hands the next waiting task to `worker` (which must be idle); nil when none waits.
  mutating func next(for worker: Int) -> Int? {
    precondition(running[worker] == nil, "worker \(worker) already runs task \(running[worker]!)")
    guard !waiting.isEmpty else { return nil }
    let t = waiting.removeFirst()
    running[worker] = t
    return t
  }

  /// Records that `worker` finished `task`; false (nothing changes) unless it was running it.
  mutating func finish(worker: Int, task: Int) -> Bool {
    guard running[worker] == task else { return false }
    running[worker] = nil
    done.insert(task)
    return true
  }

  /// `worker` is gone: its task, if any, goes back to the front of the queue.
  mutating func requeue(worker: Int) -> Int? {
    guard let t = running.removeValue(forKey: worker) else { return nil }
    waiting.insert(t, at: 0)
    return t
  }
}
