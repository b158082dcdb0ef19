/// All of a model's weights in one flat Float32 allocation, with gradients in a second one of the
/// same layout: BLAS, the all-reduce and the optimizer all work on contiguous ranges of these.
/// Layers are laid out in graph order, so backward produces gradients from the end backwards
/// (which is what lets gradient buckets leave while backward still runs).
public final class ParameterStore {
  public let count: Int
  public private(set) var values: UnsafeMutablePointer<Float>
  public private(set) var grads: UnsafeMutablePointer<Float>
  /// The store's own allocations, kept while `adopt` has it use other memory.
  private var ownValues: UnsafeMutablePointer<Float>?
  private var ownGrads: UnsafeMutablePointer<Float>?
  /// Ranges of the flat buffer the optimizer updates (weights of trainable layers).
  public internal(set) var trainableRanges: [Range<Int>] = []

  init(count: Int) {
    self.count = count
    values = .allocate(capacity: Swift.max(count, 1))
    grads = .allocate(capacity: Swift.max(count, 1))
    values.initialize(repeating: 0, count: Swift.max(count, 1))
    grads.initialize(repeating: 0, count: Swift.max(count, 1))
  }

  deinit {
    (ownValues ?? values).deallocate()
    (ownGrads ?? grads).deallocate()
  }

  /// Moves the weights and gradients into memory the caller owns (at least `count` floats
  /// each), copying the current values: a shared-memory collective's registered buffers, which
  /// its peers read in place. Layers reach their weights through the store on every pass, so
  /// nothing else needs to know. Call `release()` before that memory goes away.
  public func adopt(values newValues: UnsafeMutablePointer<Float>, grads newGrads: UnsafeMutablePointer<Float>) {
    release()
    (ownValues, ownGrads) = (values, grads)
    move(to: newValues, newGrads)
  }

  /// Copies the weights and gradients back into the store's own memory and uses it again.
  public func release() {
    guard let v = ownValues, let g = ownGrads else { return }
    (ownValues, ownGrads) = (nil, nil)
    move(to: v, g)
  }

  /// Copies both buffers to `v` and `g` and uses those from now on.
  private func move(to v: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>) {
    v.update(from: values, count: count)
    g.update(from: grads, count: count)
    (values, grads) = (v, g)
  }

  public var valueBuffer: UnsafeMutableBufferPointer<Float> { .init(start: values, count: count) }
  public var gradBuffer: UnsafeMutableBufferPointer<Float> { .init(start: grads, count: count) }

  /// A copy of all weights, flat.
  public func snapshot() -> [Float] { Array(valueBuffer) }

  /// Overwrites all weights from a flat copy of the same layout.
  public func load(_ flat: [Float]) throws {
    guard flat.count == count else {
      throw DLPError.shape("weights hold \(flat.count) values, the model has \(count)")
    }
    flat.withUnsafeBufferPointer { values.update(from: $0.baseAddress!, count: count) }
  }
}

/// Where one layer's weights sit inside a model's store.
struct ParameterBinding {
  let store: ParameterStore
  let offsets: [Int]
}
