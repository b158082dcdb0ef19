import CBLAS
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// The one set of threads a DLP process computes on: the calling thread plus `size - 1`
/// workers that DLP owns. Every parallel loop (the column or row blocks of a matrix product,
/// element-wise kernels, the optimizer update, row gathers) runs on it, and OpenBLAS itself runs
/// single-threaded: on a 2-core machine OpenBLAS's pool (which spins with `sched_yield` after
/// each sgemm) and GCD's threads otherwise fight the multiplies for the same cores.
///
/// A worker spins on the next region for a short while (a training step's serial parts, between
/// two regions, are tens of microseconds) and then blocks on a condition variable, so an idle
/// process costs nothing. Region `run(parts:)` gives part 0 to the caller and part `i` to worker
/// `i - 1`, so which thread computes what is fixed. A region started while the team is busy (a
/// nested one, or one from another thread) runs all its parts in order on its own thread:
/// results never depend on who ran a part.
public final class ThreadTeam: @unchecked Sendable {
  /// Threads in the team, the caller included.
  public let size: Int

  /// Bumped by each region (and by `stop`); workers wait for it to change.
  private let generation = Atomic<Int>(0)
  /// Workers that have not yet finished the current region.
  private let pending = Atomic<Int>(0)
  /// Workers blocked on `wake` (the caller signals only when there are some).
  private let sleepers = Atomic<Int>(0)
  /// Whether a region is running (regions do not nest across the team).
  private let busy = Atomic<Bool>(false)
  private let stopping = Atomic<Bool>(false)
  private let lock: UnsafeMutablePointer<pthread_mutex_t>
  private let wake: UnsafeMutablePointer<pthread_cond_t>
  /// The current region's body and part count; written before `generation` is bumped.
  private var job: ((Int) -> Void)?
  private var parts = 0
  private var threads: [pthread_t] = []

  /// How long an idle worker spins before it blocks.
  static let spinNanoseconds: UInt64 = 200_000

  /// The process's team (`BLAS.setThreads` replaces it). Starts with as many threads as
  /// OpenBLAS would have used, and turns OpenBLAS's own threading off.
  nonisolated(unsafe) public private(set) static var shared: ThreadTeam = {
    let n = Int(openblas_get_num_threads())
    openblas_set_num_threads(1)
    return ThreadTeam(size: n)
  }()

  /// Replaces the shared team with one of `size` threads (a no-op when it has that size, unless
  /// `restart`: new workers take the caller's current floating-point mode). Call between
  /// regions, not while another thread computes.
  public static func resize(_ size: Int, restart: Bool = false) {
    let n = Swift.max(1, size)
    openblas_set_num_threads(1)
    guard shared.size != n || restart else { return }
    shared.stop()
    shared = ThreadTeam(size: n)
  }

  public init(size: Int) {
    self.size = Swift.max(1, size)
    lock = .allocate(capacity: 1)
    wake = .allocate(capacity: 1)
    pthread_mutex_init(lock, nil)
    pthread_cond_init(wake, nil)
    let mode = dlp_get_fp_mode()
    for index in 0..<(self.size - 1) {
      let context = Unmanaged.passRetained(WorkerContext(team: self, index: index, fpMode: mode))
      var thread = pthread_t()
      let rc = pthread_create(
        &thread, nil,
        { raw in
          let context = Unmanaged<WorkerContext>.fromOpaque(raw!).takeRetainedValue()
          dlp_set_fp_mode(context.fpMode)
          context.team.workerLoop(index: context.index)
          return nil
        }, context.toOpaque())
      precondition(rc == 0, "ThreadTeam: pthread_create failed (\(rc))")
      threads.append(thread)
    }
  }

  deinit {
    pthread_cond_destroy(wake)
    pthread_mutex_destroy(lock)
    wake.deallocate()
    lock.deallocate()
  }

  /// Calls `body(part)` for every part in 0..<parts (at most `size`), in parallel when the team
  /// is free, and returns when all are done.
  public func run(parts n: Int, _ body: (Int) -> Void) {
    precondition(n <= size, "ThreadTeam: \(n) parts for a team of \(size)")
    guard n > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
      for part in 0..<Swift.max(n, 0) { body(part) }
      return
    }
    withoutActuallyEscaping(body) { body in
      job = body
      parts = n
      pending.store(size - 1, ordering: .relaxed)
      generation.add(1, ordering: .sequentiallyConsistent)
      if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
        pthread_mutex_lock(lock)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
      }
      body(0)
      // The workers started with the caller, so this wait is short; yield if it is not (a
      // worker descheduled by another process).
      var spins = 0
      while pending.load(ordering: .acquiring) != 0 {
        dlp_cpu_relax()
        spins += 1
        if spins > 4096 { sched_yield() }
      }
      job = nil
    }
    busy.store(false, ordering: .releasing)
  }

  /// Ends the workers (after any running region) and waits for them.
  func stop() {
    stopping.store(true, ordering: .sequentiallyConsistent)
    generation.add(1, ordering: .sequentiallyConsistent)
    pthread_mutex_lock(lock)
    pthread_cond_broadcast(wake)
    pthread_mutex_unlock(lock)
    for t in threads { pthread_join(t, nil) }
    threads = []
  }

  private func workerLoop(index: Int) {
    var seen = 0
    while true {
      seen = waitForRegion(after: seen)
      if stopping.load(ordering: .acquiring) { return }
      if index + 1 < parts { runPart(index + 1) }
      pending.subtract(1, ordering: .releasing)
    }
  }

  /// Kept out of line so the worker's reference to the body is released before it reports
  /// the part done (`withoutActuallyEscaping` checks that no reference outlives the region).
  @inline(never)
  private func runPart(_ part: Int) {
    job!(part)
  }

  /// Spins, then blocks, until `generation` differs from `seen`; returns the new value.
  private func waitForRegion(after seen: Int) -> Int {
    var start: UInt64 = 0
    var spins = 0
    while true {
      let g = generation.load(ordering: .acquiring)
      if g != seen { return g }
      dlp_cpu_relax()
      spins += 1
      if spins & 255 != 0 { continue }
      let now = Self.nanoseconds()
      if start == 0 {
        start = now
      } else if now - start > Self.spinNanoseconds {
        break
      }
    }
    pthread_mutex_lock(lock)
    sleepers.add(1, ordering: .sequentiallyConsistent)
    while generation.load(ordering: .sequentiallyConsistent) == seen { pthread_cond_wait(wake, lock) }
    sleepers.subtract(1, ordering: .sequentiallyConsistent)
    pthread_mutex_unlock(lock)
    return generation.load(ordering: .acquiring)
  }

  private static func nanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
  }
}

/// What a worker thread starts with.
private final class WorkerContext {
  let team: ThreadTeam
  let index: Int
  let fpMode: UInt32
  init(team: ThreadTeam, index: Int, fpMode: UInt32) {
    self.team = team
    self.index = index
    self.fpMode = fpMode
  }
}
