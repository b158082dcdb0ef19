/// Keras's spatial padding modes.
public enum Padding: String, Sendable, CaseIterable {
  /// No padding: windows lie fully inside the input.
  case valid
  /// Pad so that `out = ceil(in / stride)` (TF/Keras arithmetic: any odd pad goes after).
  case same

  /// Parses Keras's `padding` value (case-insensitive); `context` names the layer in errors.
  public init(keras value: String, context: String) throws {
    guard let p = Padding(rawValue: value.lowercased()) else {
      throw DLPError.config(
        "\(context): expected padding 'valid' or 'same'. Received: padding=\(value)")
    }
    self = p
  }
}

/// The geometry of a 2-D sliding window over a channels-last input (H, W, C): what Conv2D and
/// the pooling layers share. Output position (oh, ow) reads input rows
/// `oh * strideH - padTop ..< + kernelH` and columns `ow * strideW - padLeft ..< + kernelW`;
/// positions outside the input are padding.
public struct Window2D: Sendable, Equatable {
  public let inH: Int, inW: Int, channels: Int
  public let kernelH: Int, kernelW: Int
  public let strideH: Int, strideW: Int
  public let padTop: Int, padLeft: Int
  public let outH: Int, outW: Int

  /// - Throws: when a `valid` window is larger than the input, naming `context`.
  public init(
    input: [Int], kernel: (Int, Int), strides: (Int, Int), padding: Padding, context: String
  ) throws {
    guard input.count == 3, input.allSatisfy({ $0 > 0 }) else {
      throw DLPError.shape(
        "\(context) expects inputs of shape (None, height, width, channels); received \(describeShapes([input]))"
      )
    }
    (inH, inW, channels) = (input[0], input[1], input[2])
    (kernelH, kernelW) = kernel
    (strideH, strideW) = strides
    let h = try Window2D.axis(inH, kernelH, strideH, padding, "height", context)
    let w = try Window2D.axis(inW, kernelW, strideW, padding, "width", context)
    (outH, padTop, outW, padLeft) = (h.out, h.padBefore, w.out, w.padBefore)
  }

  /// Output size and leading pad along one axis. `same`: pad_total = max((out - 1) * stride +
  /// k - in, 0), pad_before = pad_total / 2 (TF's rule; the odd one goes after).
  static func axis(
    _ size: Int, _ k: Int, _ stride: Int, _ padding: Padding, _ axisName: String, _ context: String
  ) throws -> (out: Int, padBefore: Int) {
    switch padding {
    case .valid:
      guard k <= size else {
        throw DLPError.shape(
          "\(context): the window (\(k) along the \(axisName)) is larger than the input (\(size)) with padding 'valid'; use a smaller kernel or padding 'same'"
        )
      }
      return ((size - k) / stride + 1, 0)
    case .same:
      let out = (size + stride - 1) / stride
      return (out, Swift.max((out - 1) * stride + k - size, 0) / 2)
    }
  }

  public var inputShape: [Int] { [inH, inW, channels] }
  /// Values per input sample.
  public var inputWidth: Int { inH * inW * channels }
  /// Output positions per sample.
  public var positions: Int { outH * outW }
  /// Width of one im2col row: the receptive field (kh, kw, c) flattened.
  public var patchWidth: Int { kernelH * kernelW * channels }
  /// True when every window covers exactly one input position in order (a 1x1 convolution with
  /// stride 1): the input already is its own im2col matrix.
  public var isPointwise: Bool {
    kernelH == 1 && kernelW == 1 && strideH == 1 && strideW == 1 && outH == inH && outW == inW
  }

  /// True when the windows tile the input without overlap or padding (strides = kernel,
  /// 'valid'): every input position is in at most one window.
  public var tiles: Bool {
    strideH == kernelH && strideW == kernelW && padTop == 0 && padLeft == 0 && outH * kernelH <= inH
      && outW * kernelW <= inW
  }

  /// The kernel rows `lo..<hi` of window row `oh` that fall inside the input.
  @inline(__always) func rows(_ oh: Int) -> (start: Int, lo: Int, hi: Int) {
    let start = oh * strideH - padTop
    return (start, Swift.max(0, -start), Swift.min(kernelH, inH - start))
  }

  /// The kernel columns `lo..<hi` of window column `ow` that fall inside the input.
  @inline(__always) func columns(_ ow: Int) -> (start: Int, lo: Int, hi: Int) {
    let start = ow * strideW - padLeft
    return (start, Swift.max(0, -start), Swift.min(kernelW, inW - start))
  }
}

/// Parses a pair of positive integers given as one integer or a list of two (Keras's
/// `kernel_size=3` or `(3, 3)`), naming the layer and key in errors.
func positivePair(_ values: [Int], _ key: String, _ context: String) throws -> (Int, Int) {
  guard values.count == 2, values.allSatisfy({ $0 > 0 }) else {
    throw DLPError.config(
      "\(context): expected \(key) to be one or two positive integers. Received: \(key)=\(values)")
  }
  return (values[0], values[1])
}

extension LayerConfig {
  /// Keras's `padding` ('valid' by default).
  func padding() throws -> Padding {
    try Padding(keras: string("padding", default: "valid"), context: context)
  }

  /// Keras's `data_format`: only channels_last (or absent/null, Keras's default) is supported.
  func requireChannelsLast() throws {
    let f = try string("data_format", default: "channels_last")
    guard f == "channels_last" else {
      throw DLPError.config(
        "\(context): key 'data_format' must be 'channels_last' (DLP stores images as (H, W, C)), got '\(f)'"
      )
    }
  }
}
