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
/// process costs nothing. The parts of a region are claimed by whichever thread is free first
/// (the caller included), so a worker that is slow to wake, or descheduled by another process
/// on a shared machine, does not hold the caller up: the caller takes its part. Parts write
/// disjoint outputs, so results never depend on who ran a part. A region started while the
/// team is busy (a nested one, or one from another thread) runs all its parts in order on its
/// own thread.
public final class ThreadTeam: @unchecked Sendable {
  /// Threads in the team, the caller included.
  public let size: Int

  /// Bumped by each region (and by `stop`); workers wait for it to change.
  private let generation = Atomic<Int>(0)
  /// The current region's claim state: region << 32 | parts << 16 | next unclaimed part. One
  /// word, so a claim (a compare-exchange) also proves the region is still the one it read.
  private let ticket = Atomic<Int>(0)
  /// Parts of the current region that are finished.
  private let done = Atomic<Int>(0)
  /// The caller's region counter.
  private var region = 0
  /// Workers blocked on `wake` (the caller signals only when there are some).
  private let sleepers = Atomic<Int>(0)
  /// Whether a region is running (regions do not nest across the team).
  private let busy = Atomic<Bool>(false)
  private let stopping = Atomic<Bool>(false)
  private let lock: UnsafeMutablePointer<pthread_mutex_t>
  private let wake: UnsafeMutablePointer<pthread_cond_t>
  /// The current region's body; written before its ticket is published.
  private var job: ((Int) -> Void)?
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
    precondition(n <= size && n < 1 << 16, "ThreadTeam: \(n) parts for a team of \(size)")
    guard n > 1, busy.compareExchange(expected: false, desired: true, ordering: .acquiring).exchanged else {
      for part in 0..<Swift.max(n, 0) { body(part) }
      return
    }
    withoutActuallyEscaping(body) { body in
      job = body
      // 31 bits of region number, so the shift cannot overflow (it wraps after ~2^31 regions).
      region = (region + 1) & 0x7fff_ffff
      done.store(0, ordering: .relaxed)
      ticket.store(region << 32 | n << 16, ordering: .sequentiallyConsistent)
      generation.store(region, ordering: .sequentiallyConsistent)
      if sleepers.load(ordering: .sequentiallyConsistent) > 0 {
        pthread_mutex_lock(lock)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(lock)
      }
      runClaimedParts(region: region)
      // Every part is claimed now; wait for those a worker is still computing (yield if that
      // takes long: the worker was descheduled by another process).
      var spins = 0
      while done.load(ordering: .acquiring) != n {
        dlp_cpu_relax()
        spins += 1
        if spins > 4096 { sched_yield() }
      }
      job = nil
    }
    busy.store(false, ordering: .releasing)
  }

  /// Claims and runs parts of region `r` until none is left (or the region is over).
  private func runClaimedParts(region r: Int) {
    var t = ticket.load(ordering: .acquiring)
    while t >> 32 == r {
      let next = t & 0xffff
      guard next < (t >> 16) & 0xffff else { return }
      let (exchanged, original) = ticket.compareExchange(
        expected: t, desired: t + 1, ordering: .acquiringAndReleasing)
      if exchanged {
        runPart(next)
        done.add(1, ordering: .releasing)
        t = ticket.load(ordering: .acquiring)
      } else {
        t = original
      }
    }
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
      runClaimedParts(region: seen)
    }
  }

  /// Kept out of line so a worker's reference to the body is released before it reports the
  /// part done (`withoutActuallyEscaping` checks that no reference outlives the region).
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
