import Foundation

/// A dense Float32 tensor: contiguous row-major storage and a shape.
///
/// `Tensor` is a value type (copy-on-write through its `[Float]` storage), the type users and
/// data loaders hand around. The training hot path does not go through it: layers work on
/// preallocated buffers (see `DLP.Workspace`), so nothing here allocates per step.
public struct Tensor: Sendable, Equatable {
  /// The extent of each axis; `[]` is a scalar.
  public private(set) var shape: [Int]
  /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
  public var scalars: [Float]

  /// Wraps `scalars` with `shape`, checking that they agree.
  public init(shape: [Int], scalars: [Float]) throws {
    guard shape.allSatisfy({ $0 >= 0 }) else {
      throw TensorError.invalidShape("negative extent in shape \(shape)")
    }
    let count = shape.reduce(1, *)
    guard count == scalars.count else {
      throw TensorError.invalidShape(
        "shape \(shape) holds \(count) elements but \(scalars.count) were given")
    }
    self.shape = shape
    self.scalars = scalars
  }

  /// Unchecked initialiser for callers that computed `scalars` from `shape` themselves.
  public init(uncheckedShape shape: [Int], scalars: [Float]) {
    assert(shape.reduce(1, *) == scalars.count)
    self.shape = shape
    self.scalars = scalars
  }

  public init(zeros shape: [Int]) {
    self.init(repeating: 0, shape: shape)
  }

  public init(repeating value: Float, shape: [Int]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "negative extent in shape \(shape)")
    self.shape = shape
    self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
  }

  /// A rank-0 tensor.
  public init(_ scalar: Float) {
    self.shape = []
    self.scalars = [scalar]
  }

  /// A rank-1 tensor.
  public init(_ values: [Float]) {
    self.shape = [values.count]
    self.scalars = values
  }

  /// A rank-2 tensor from rows of equal length.
  public init(rows: [[Float]]) throws {
    let width = rows.first?.count ?? 0
    guard rows.allSatisfy({ $0.count == width }) else {
      throw TensorError.invalidShape("rows of unequal length")
    }
    self.shape = [rows.count, width]
    self.scalars = rows.flatMap { $0 }
  }

  public var rank: Int { shape.count }
  public var count: Int { scalars.count }

  /// Elements per index of the first axis (the size of one sample when axis 0 is the batch).
  public var rowWidth: Int { shape.dropFirst().reduce(1, *) }

  /// The only element of a one-element tensor.
  public var scalar: Float? { scalars.count == 1 ? scalars[0] : nil }

  /// The element at a multi-index; traps when out of range (a programming error).
  public subscript(_ index: Int...) -> Float {
    get { scalars[flatIndex(index)] }
    set { scalars[flatIndex(index)] = newValue }
  }

  func flatIndex(_ index: [Int]) -> Int {
    precondition(index.count == shape.count, "index \(index) for shape \(shape)")
    var flat = 0
    for (i, extent) in zip(index, shape) {
      precondition(i >= 0 && i < extent, "index \(index) out of range for shape \(shape)")
      flat = flat * extent + i
    }
    return flat
  }

  /// The same elements with another shape; one extent may be -1 (inferred).
  public func reshaped(to newShape: [Int]) throws -> Tensor {
    var resolved = newShape
    let inferred = newShape.indices.filter { newShape[$0] == -1 }
    guard inferred.count <= 1, newShape.allSatisfy({ $0 >= -1 }) else {
      throw TensorError.invalidShape("cannot reshape \(shape) to \(newShape)")
    }
    if let axis = inferred.first {
      let known = newShape.filter { $0 != -1 }.reduce(1, *)
      guard known > 0, count % known == 0 else {
        throw TensorError.invalidShape("cannot reshape \(shape) to \(newShape)")
      }
      resolved[axis] = count / known
    }
    guard resolved.reduce(1, *) == count else {
      throw TensorError.invalidShape("cannot reshape \(shape) (\(count) elements) to \(newShape)")
    }
    return Tensor(uncheckedShape: resolved, scalars: scalars)
  }
}

/// Errors from tensor construction and shape checks: always about the caller's input.
public enum TensorError: Error, CustomStringConvertible, Equatable {
  case invalidShape(String)
  case shapeMismatch(String)
  case indexOutOfRange(String)

  public var description: String {
    switch self {
    case .invalidShape(let m): return "invalid shape: \(m)"
    case .shapeMismatch(let m): return "shape mismatch: \(m)"
    case .indexOutOfRange(let m): return "index out of range: \(m)"
    }
  }
}

extension Tensor: CustomStringConvertible {
  public var description: String {
    let preview = scalars.prefix(8).map { String(format: "%.4g", $0) }.joined(separator: ", ")
    return "Tensor(shape: \(shape), [\(preview)\(count > 8 ? ", ..." : "")])"
  }
}
