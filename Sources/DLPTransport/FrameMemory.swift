import CZMQ
import Foundation

/// Keeps the memory of received frames mapped from one frame to the next.
///
/// ZeroMQ mallocs every received frame bigger than its 8 KiB read buffer, reads the socket
/// straight into it, and the collective frees it once the chunk is added. glibc serves
/// allocations above its mmap threshold (128 KiB at start, later the largest block freed so far)
/// with fresh mappings, and hands free memory at the top of a thread's arena back to the kernel
/// once it exceeds the trim threshold (twice the mmap threshold). A stream of 256 KiB chunks with
/// a few in flight therefore page-faults on every chunk: zeroing and mapping pages took ~20% of
/// the CPU time of a 2-rank all-reduce over tcp. Raising both thresholds once per process lets
/// the chunks reuse the arena's memory; freed memory beyond `retained` still goes back.
///
/// Only processes that build a ZeroMQ ring call this (in-process training never does); a user's
/// own `MALLOC_*` settings or glibc tunables win.
enum FrameMemory {
  /// Raises glibc's thresholds so that frames of up to `frameBytes` come from the arena and
  /// about `retained` bytes of freed frames stay mapped. Only ever raises; safe to call often.
  static func keepMapped(frameBytes: Int, retained: Int) {
    state.raise(mmap: frameBytes, trim: retained)
  }

  /// The thresholds set so far (0: not set), for tests and logs.
  static var thresholds: (mmap: Int, trim: Int) { state.current }

  private static let state = State()

  private final class State: @unchecked Sendable {
    private let lock = NSLock()
    private var mmap = 0
    private var trim = 0
    private let userChose: Bool = {
      let env = ProcessInfo.processInfo.environment
      return env.keys.contains { $0.hasPrefix("MALLOC_") && $0.hasSuffix("_") }
        || (env["GLIBC_TUNABLES"] ?? "").contains("glibc.malloc.")
    }()

    var current: (mmap: Int, trim: Int) {
      lock.lock()
      defer { lock.unlock() }
      return (mmap, trim)
    }

    func raise(mmap wantMmap: Int, trim wantTrim: Int) {
      guard !userChose else { return }
      lock.lock()
      defer { lock.unlock() }
      // Above glibc's own starting points, and never more than the 32 MiB it allows itself.
      let newMmap = min(max(mmap, wantMmap + (64 << 10), 1 << 20), 32 << 20)
      let newTrim = min(max(trim, wantTrim, 2 * newMmap), 256 << 20)
      if newMmap > mmap, mallopt(M_MMAP_THRESHOLD, Int32(newMmap)) == 1 { mmap = newMmap }
      if newTrim > trim, mallopt(M_TRIM_THRESHOLD, Int32(newTrim)) == 1 { trim = newTrim }
    }
  }
}
