import DLPTensor

/// Splits the samples of a batch across the process's thread team (`ThreadTeam.shared`, the
/// same threads the matrix products split over), so the loops around the products (im2col,
/// col2im, pooling, element-wise kernels, the optimizer update) do not leave the second core
/// idle. Small batches, and one-thread runs (each distributed worker), stay on the calling
/// thread.
enum Parallel {
  /// Calls `body(chunk, range)` for `chunks(count)` contiguous ranges covering 0..<count, in
  /// parallel when there are several (up to `oversplit` per thread, claimed dynamically).
  static func forEach(
    _ count: Int, minimumPerChunk: Int = 1, chunksPerThread: Int = oversplit,
    _ body: (_ chunk: Int, _ range: Range<Int>) -> Void
  ) {
    let n = chunks(count, minimumPerChunk: minimumPerChunk, chunksPerThread: chunksPerThread)
    guard n > 1 else {
      body(0, 0..<count)
      return
    }
    ThreadTeam.shared.run(parts: n) { c in body(c, range(c, of: n, count: count)) }
  }

  /// How many chunks `forEach` uses for `count` items.
  static func chunks(_ count: Int, minimumPerChunk: Int = 1, chunksPerThread: Int = oversplit)
    -> Int
  {
    let t = BLAS.threads
    let limit = t > 1 ? t * Swift.max(chunksPerThread, 1) : 1
    return Swift.max(1, Swift.min(limit, count / Swift.max(minimumPerChunk, 1)))
  }
  /// Chunks per thread. The team hands chunks to whichever thread is free, so a thread that
  /// runs slower (descheduled by another process, or sharing a physical core with its peer on
  /// a virtual machine) takes fewer of them instead of holding the other up at the region's
  /// end; chunks write disjoint outputs, so results do not depend on who ran which.
  static let oversplit = 4

  /// Chunk `c` of `n` even, contiguous ranges of 0..<count.
  static func range(_ c: Int, of n: Int, count: Int) -> Range<Int> {
    (c * count / n)..<((c + 1) * count / n)
  }
}

/// Hands a value the compiler cannot prove thread-safe to concurrent chunks that touch
/// disjoint memory.
struct UncheckedSendable<T>: @unchecked Sendable {
  let value: T
  init(_ value: T) { self.value = value }
}
