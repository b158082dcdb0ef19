/// The geometry of Keras's Conv1D window over a (steps, channels) input: output position o
/// reads input steps `o * stride - padBefore + k * dilation` for k in 0..<kernel; steps outside
/// the input are padding (zeros).
/// - valid: no padding;
/// - same: out = ceil(steps / stride), pad = max((out - 1) * stride + span - steps, 0), the
///   odd one after (TF's rule);
/// - causal: span - 1 zeros before (Keras pads the input, then convolves 'valid'), so output o
///   sees no step after o * stride.
/// (span = dilation * (kernel - 1) + 1.)
public struct Window1D: Sendable, Equatable {
  public let steps: Int, channels: Int
  public let kernel: Int, stride: Int, dilation: Int
  public let padBefore: Int
  public let outSteps: Int

  public init(
    input: [Int], kernel: Int, stride: Int, dilation: Int, padding: Padding1D, context: String
  ) throws {
    guard input.count == 2, input.allSatisfy({ $0 > 0 }) else {
      throw DLPError.shape(
        "\(context) expects inputs of shape (None, steps, channels); received \(describeShapes([input]))"
      )
    }
    (steps, channels) = (input[0], input[1])
    (self.kernel, self.stride, self.dilation) = (kernel, stride, dilation)
    let span = dilation * (kernel - 1) + 1
    switch padding {
    case .valid:
      guard span <= steps else {
        throw DLPError.shape(
          "\(context): the window (\(span) steps) is longer than the input (\(steps)) with padding 'valid'; use a smaller kernel or padding 'same'"
        )
      }
      (outSteps, padBefore) = ((steps - span) / stride + 1, 0)
    case .same:
      let out = (steps + stride - 1) / stride
      (outSteps, padBefore) = (out, Swift.max((out - 1) * stride + span - steps, 0) / 2)
    case .causal:
      (outSteps, padBefore) = ((steps - 1) / stride + 1, span - 1)
    }
  }

  /// Steps from the first window's first step to the last window's last: the input with its
  /// padding on both sides.
  public var paddedSteps: Int { (outSteps - 1) * stride + dilation * (kernel - 1) + 1 }

  /// Width of one im2col row: the receptive field (kernel, channels) flattened.
  public var patchWidth: Int { kernel * channels }
  public var inputWidth: Int { steps * channels }
  /// A kernel of 1 at stride 1: the input is its own im2col matrix.
  public var isPointwise: Bool { kernel == 1 && stride == 1 && outSteps == steps }
}

/// Keras's 1-D padding modes.
public enum Padding1D: String, Sendable, CaseIterable {
  case valid, same, causal

  public init(keras value: String, context: String) throws {
    guard let p = Padding1D(rawValue: value.lowercased()) else {
      throw DLPError.config(
        "\(context): expected padding 'valid', 'same' or 'causal'. Received: padding=\(value)")
    }
    self = p
  }
}

/// im2col and its adjoint for `Window1D`: row (n, o) of the column matrix holds the receptive
/// field of output o of sample n as (kernel, channels), the row order of a Keras kernel
/// (kernel, in, filters) seen as a (kernel * in, filters) matrix.
enum Im2Col1D {
  /// cols (batch * outSteps, kernel * channels) <- x (batch, steps, channels).
  static func im2col(
    _ x: UnsafePointer<Float>, batch: Int, _ g: Window1D, into cols: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        let xs = x + n * g.inputWidth
        for o in 0..<g.outSteps {
          let row = cols + (n * g.outSteps + o) * g.patchWidth
          let first = o * g.stride - g.padBefore
          for k in 0..<g.kernel {
            let step = first + k * g.dilation
            let dst = row + k * c
            if step >= 0 && step < g.steps {
              dst.update(from: xs + step * c, count: c)
            } else {
              dst.update(repeating: 0, count: c)
            }
          }
        }
      }
    }
  }

  /// dx (batch, steps, channels) <- the sum over windows of their column-matrix rows.
  static func col2im(
    _ cols: UnsafePointer<Float>, batch: Int, _ g: Window1D, into dx: UnsafeMutablePointer<Float>
  ) {
    let c = g.channels
    Parallel.forEach(batch) { _, samples in
      for n in samples {
        let d = dx + n * g.inputWidth
        d.update(repeating: 0, count: g.inputWidth)
        for o in 0..<g.outSteps {
          let row = cols + (n * g.outSteps + o) * g.patchWidth
          let first = o * g.stride - g.padBefore
          for k in 0..<g.kernel {
            let step = first + k * g.dilation
            guard step >= 0 && step < g.steps else { continue }
            let src = row + k * c
            let dst = d + step * c
            for j in 0..<c { dst[j] += src[j] }
          }
        }
      }
    }
  }
}
