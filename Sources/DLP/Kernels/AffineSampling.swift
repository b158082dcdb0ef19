import Foundation

/// How `AffineSampling` reads outside the image (Keras's `fill_mode`, as JAX's
/// `map_coordinates` implements it).
public enum FillMode: String, Sendable, CaseIterable {
  /// d c b a | a b c d | d c b a: reflect about the edge of the last pixel.
  case reflect
  /// a b c d | a b c d | a b c d.
  case wrap
  /// k k k k | a b c d | k k k k with k = fill_value.
  case constant
  /// a a a a | a b c d | d d d d.
  case nearest

  public init(keras value: String, context: String) throws {
    guard let m = FillMode(rawValue: value) else {
      throw DLPError.config(
        "\(context): expected fill_mode one of \(FillMode.allCases.map(\.rawValue)). Received: fill_mode=\(value)")
    }
    self = m
  }

  /// The in-range index JAX's index fixer maps `index` to (for `constant`, the index itself;
  /// `inside` says whether it is valid).
  @inline(__always) func fix(_ index: Int, _ size: Int) -> Int {
    switch self {
    case .constant: return index
    case .nearest: return Swift.min(Swift.max(index, 0), size - 1)
    case .wrap: return floorMod(index, size)
    case .reflect:
      // jax: floor_divide(mirror(2 * index + 1, 2 * size + 1) - 1, 2), mirror(i, n) = |(i + s) mod 2s - s|, s = n - 1.
      let s = 2 * size
      let mirrored = Swift.abs(floorMod(2 * index + 1 + s, 2 * s) - s)
      return floorDiv(mirrored - 1, 2)
    }
  }
}

/// Keras's image `interpolation` for the affine augmentation layers.
public enum Interpolation: String, Sendable, CaseIterable {
  case bilinear, nearest

  public init(keras value: String, context: String) throws {
    guard let i = Interpolation(rawValue: value) else {
      throw DLPError.config(
        "\(context): expected interpolation 'bilinear' or 'nearest'. Received: interpolation=\(value)")
    }
    self = i
  }
}

@inline(__always) func floorMod(_ a: Int, _ n: Int) -> Int {
  let r = a % n
  return r < 0 ? r + n : r
}

@inline(__always) func floorDiv(_ a: Int, _ n: Int) -> Int {
  (a - floorMod(a, n)) / n
}

/// Keras's `ops.image.affine_transform` on the JAX backend, for one channels-last image:
/// output pixel (y, x) samples the input at column a0 x + a1 y + a2 and row b0 x + b1 y + b2
/// (the 8-parameter transform [a0, a1, a2, b0, b1, b2, c0, c1], projective terms c0 = c1 = 0
/// as the augmentation layers make it), with JAX's `map_coordinates` interpolation and fill.
/// The backward is its adjoint: each output gradient goes to the input pixels it was read from,
/// with the same weights.
public struct AffineSampling {
  public let height: Int, width: Int, channels: Int
  public let fillMode: FillMode
  public let fillValue: Float
  public let interpolation: Interpolation

  /// One interpolation node along an axis: the fixed index, whether it is inside (constant
  /// mode), and its weight.
  struct Tap {
    var index: Int
    var inside: Bool
    var weight: Float
  }

  /// The taps of coordinate `coord` along an axis of `size` pixels (1 for nearest, 2 for linear).
  @inline(__always) func taps(_ coord: Float, _ size: Int) -> (Tap, Tap?) {
    func tap(_ i: Int, _ w: Float) -> Tap {
      Tap(index: fillMode.fix(i, size), inside: fillMode != .constant || (i >= 0 && i < size), weight: w)
    }
    switch interpolation {
    case .nearest:
      return (tap(Int(coord.rounded(.toNearestOrAwayFromZero)), 1), nil)
    case .bilinear:
      let lower = coord.rounded(.down)
      let upper = coord - lower
      let i = Int(lower)
      return (tap(i, 1 - upper), tap(i + 1, upper))
    }
  }

  /// Where output pixel (y, x) reads, as JAX computes it: rows y * b1 + x * b0 + b2,
  /// columns y * a1 + x * a0 + a2, in float32.
  @inline(__always) static func source(_ t: UnsafePointer<Float>, y: Int, x: Int) -> (row: Float, col: Float) {
    let (fy, fx) = (Float(y), Float(x))
    return (fy * t[4] + fx * t[3] + t[5], fy * t[1] + fx * t[0] + t[2])
  }

  /// out (H, W, C) <- input (H, W, C) under `transform` (8 floats).
  public func forward(
    _ input: UnsafePointer<Float>, transform t: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>
  ) {
    let c = channels
    for y in 0..<height {
      for x in 0..<width {
        let (row, col) = Self.source(t, y: y, x: x)
        let (r0, r1) = taps(row, height)
        let (c0, c1) = taps(col, width)
        let o = out + (y * width + x) * c
        for k in 0..<c { o[k] = 0 }
        // JAX sums the corners in this order: (r0, c0), (r0, c1), (r1, c0), (r1, c1).
        @inline(__always) func add(_ r: Tap, _ q: Tap) {
          let w = r.weight * q.weight
          if r.inside && q.inside {
            let src = input + (r.index * width + q.index) * c
            for k in 0..<c { o[k] += w * src[k] }
          } else {
            for k in 0..<c { o[k] += w * fillValue }
          }
        }
        add(r0, c0)
        if let c1 { add(r0, c1) }
        if let r1 {
          add(r1, c0)
          if let c1 { add(r1, c1) }
        }
      }
    }
  }

  /// dInput (H, W, C) <- the adjoint of `forward` applied to dOut (overwrites dInput).
  public func backward(
    _ dOut: UnsafePointer<Float>, transform t: UnsafePointer<Float>, into dInput: UnsafeMutablePointer<Float>
  ) {
    let c = channels
    dInput.update(repeating: 0, count: height * width * c)
    for y in 0..<height {
      for x in 0..<width {
        let (row, col) = Self.source(t, y: y, x: x)
        let (r0, r1) = taps(row, height)
        let (c0, c1) = taps(col, width)
        let g = dOut + (y * width + x) * c
        @inline(__always) func add(_ r: Tap, _ q: Tap) {
          guard r.inside && q.inside else { return }
          let w = r.weight * q.weight
          let dst = dInput + (r.index * width + q.index) * c
          for k in 0..<c { dst[k] += w * g[k] }
        }
        add(r0, c0)
        if let c1 { add(r0, c1) }
        if let r1 {
          add(r1, c0)
          if let c1 { add(r1, c1) }
        }
      }
    }
  }
}
