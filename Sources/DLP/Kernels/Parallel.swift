import DLPTensor

/// Splits the samples of a batch across the process's thread team (`ThreadTeam.shared`, the
/// same threads the matrix products split over), so the loops around the products (im2col,
/// col2im, pooling, element-wise kernels, the optimizer update) do not leave the second core
/// idle. Small batches, and one-thread runs (each distributed worker), stay on the calling
/// thread.
enum Parallel {
  /// Calls `body(chunk, range)` for `chunks(count)` contiguous ranges covering 0..<count, in
  /// parallel when there are several. One chunk per thread: consecutive loops over a batch
  /// then give each thread the same samples, which stay in its cache (more, smaller chunks
  /// claimed by whichever thread is free measured no faster on imdb-conv1d, and four times
  /// slower on the optimizer update after an sgemm).
  static func forEach(
    _ count: Int, minimumPerChunk: Int = 1, _ body: (_ chunk: Int, _ range: Range<Int>) -> Void
  ) {
    let n = chunks(count, minimumPerChunk: minimumPerChunk)
    guard n > 1 else {
      body(0, 0..<count)
      return
    }
    ThreadTeam.shared.run(parts: n) { c in body(c, range(c, of: n, count: count)) }
  }

  /// How many chunks `forEach` uses for `count` items.
  static func chunks(_ count: Int, minimumPerChunk: Int = 1) -> Int {
    Swift.max(1, Swift.min(BLAS.threads, count / Swift.max(minimumPerChunk, 1)))
  }

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
