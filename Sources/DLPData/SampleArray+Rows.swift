extension SampleArray {
  /// Writes samples `ids[j]` for `j` in `range` into rows `j` of `dst` (`rowWidth` Float32
  /// slots each), as `delivery` says: the one place a batch leaves its stored element type.
  /// A model's executor calls it per thread on disjoint `range`s.
  ///
  /// `ids` come from the training loop (permutations of `0..<rows`); one outside that range is
  /// a programming error and traps. So does `.int32Bits` on float32 storage, which
  /// `ArrayData.validate` refuses before any batch is loaded.
  public func copyRows(
    _ ids: UnsafeBufferPointer<Int>, _ range: Range<Int>, to dst: UnsafeMutablePointer<Float>,
    delivery: SampleDelivery
  ) {
    let w = rowWidth
    let n = rows
    for j in range { precondition(ids[j] >= 0 && ids[j] < n, "row \(ids[j]) of \(n) samples") }
    switch (storage, delivery) {
    case (.float32(let s), .values):
      s.withUnsafeBufferPointer { src in
        let base = src.baseAddress!
        for j in range { (dst + j * w).update(from: base + ids[j] * w, count: w) }
      }
    case (.uint8(let s, let divisor), .values):
      s.withUnsafeBufferPointer { src in
        let base = src.baseAddress!
        for j in range {
          let from = base + ids[j] * w
          let to = dst + j * w
          // Vectorised convert-and-divide (a division, to match numpy bit for bit).
          for c in 0..<w { to[c] = Float(from[c]) / divisor }
        }
      }
    case (.int32(let s), .values):
      s.withUnsafeBufferPointer { src in
        let base = src.baseAddress!
        for j in range {
          let from = base + ids[j] * w
          let to = dst + j * w
          for c in 0..<w { to[c] = Float(from[c]) }
        }
      }
    case (.int32(let s), .int32Bits):
      s.withUnsafeBufferPointer { src in
        let base = src.baseAddress!
        let out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Int32.self)
        for j in range { (out + j * w).update(from: base + ids[j] * w, count: w) }
      }
    case (.uint8(let s, _), .int32Bits):
      s.withUnsafeBufferPointer { src in
        let base = src.baseAddress!
        let out = UnsafeMutableRawPointer(dst).assumingMemoryBound(to: Int32.self)
        for j in range {
          let from = base + ids[j] * w
          let to = out + j * w
          for c in 0..<w { to[c] = Int32(from[c]) }
        }
      }
    case (.float32, .int32Bits):
      preconditionFailure("float32 samples cannot be delivered as integer ids")
    }
  }
}

extension SampleArray {
  /// Calls `body(r, values)` for each sample `r` with its values as Float32 (see
  /// `SampleDelivery.values`), one row at a time: statistics over a dataset of bytes need no
  /// Float copy of it.
  public func forEachRow(_ body: (Int, UnsafeBufferPointer<Float>) throws -> Void) rethrows {
    let w = rowWidth
    if case .float32(let s) = storage {
      try s.withUnsafeBufferPointer { src in
        for r in 0..<rows { try body(r, UnsafeBufferPointer(rebasing: src[(r * w)..<((r + 1) * w)])) }
      }
      return
    }
    let scratch = UnsafeMutablePointer<Float>.allocate(capacity: Swift.max(w, 1))
    scratch.initialize(repeating: 0, count: Swift.max(w, 1))
    defer { scratch.deallocate() }
    var id = 0
    for r in 0..<rows {
      id = r
      withUnsafePointer(to: &id) {
        copyRows(UnsafeBufferPointer(start: $0, count: 1), 0..<1, to: scratch, delivery: .values)
      }
      try body(r, UnsafeBufferPointer(start: scratch, count: w))
    }
  }
}
