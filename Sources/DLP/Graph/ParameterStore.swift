/// All of a model's weights in one flat Float32 allocation, with gradients in a second one of the
/// same layout: BLAS, the all-reduce and the optimizer all work on contiguous ranges of these.
/// Layers are laid out in graph order, so backward produces gradients from the end backwards
/// (which is what lets gradient buckets leave while backward still runs).
public final class ParameterStore {
  public let count: Int
  public let values: UnsafeMutablePointer<Float>
  public let grads: UnsafeMutablePointer<Float>
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
    values.deallocate()
    grads.deallocate()
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
