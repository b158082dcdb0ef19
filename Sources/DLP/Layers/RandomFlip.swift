/// Keras's RandomFlip: in training, each image is flipped left-right ("horizontal"),
/// top-bottom ("vertical") or both ("horizontal_and_vertical", Keras's default) when its draw
/// is <= 0.5 (one draw per image: with both modes an image is flipped both ways or not at
/// all, as Keras does); the identity at inference.
public final class RandomFlip: RandomImageLayer {
  public enum Mode: String, Sendable {
    case horizontal
    case vertical
    case horizontalAndVertical = "horizontal_and_vertical"
  }

  public let mode: Mode

  public init(_ mode: Mode = .horizontalAndVertical, seed: Int? = nil, name: String? = nil) {
    self.mode = mode
    super.init(seed: seed, name: name, defaultPrefix: "random_flip")
  }

  public override var className: String { "RandomFlip" }

  /// Per sample: 1 when the image was flipped (row 0 also tells whether the pass trained).
  public override func scratchWidths() -> [Int] { [2] }

  /// Copies image `src` to `dst` (H, W, C) with the rows and/or columns reversed; an adjoint
  /// of itself, so backward is the same copy.
  func flip(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>) {
    let (h, w, c) = (imageHeight, imageWidth, imageChannels)
    let flipRows = mode != .horizontal
    let flipColumns = mode != .vertical
    for y in 0..<h {
      let sy = flipRows ? h - 1 - y : y
      for x in 0..<w {
        let sx = flipColumns ? w - 1 - x : x
        (dst + (y * w + x) * c).update(from: src + (sy * w + sx) * c, count: c)
      }
    }
  }

  public override func forward(_ p: ForwardPass) {
    let n = imageSize
    let saved = p.scratch[0]
    for r in 0..<p.batch {
      let flipped = p.training && uniform(p, draw: 0, row: r, minval: 0, maxval: 1) <= 0.5
      saved[r * 2] = flipped ? 1 : 0
      if flipped {
        flip(p.inputs[0] + r * n, p.output + r * n)
      } else {
        (p.output + r * n).update(from: p.inputs[0] + r * n, count: n)
      }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let n = imageSize
    for r in 0..<p.batch {
      if p.scratch[0][r * 2] != 0 {
        flip(p.outputGrad + r * n, dx + r * n)
      } else {
        (dx + r * n).update(from: p.outputGrad + r * n, count: n)
      }
    }
  }

  public override func config() -> [String: JSONValue] {
    ["mode": .string(mode.rawValue), "seed": seed.map { JSONValue($0) } ?? .null, "data_format": "channels_last"]
  }
}

extension RandomFlip {
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let m = try c.string("mode", default: "horizontal_and_vertical")
    guard let mode = Mode(rawValue: m) else {
      throw DLPError.config(
        "\(c.context): expected mode 'horizontal', 'vertical' or 'horizontal_and_vertical'. Received: mode=\(m)")
    }
    self.init(mode, seed: c.optionalInt("seed"), name: c.name)
  }
}
