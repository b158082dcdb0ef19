/// Keras's Resizing with bilinear interpolation (the default; no crop or pad to aspect ratio,
/// no antialiasing): (H, W, C) -> (height, width, C), half-pixel centres, edges clamped
/// (`BilinearResize`). Active at training and inference.
public final class Resizing: Layer {
  public let height: Int
  public let width: Int
  var resize: BilinearResize?

  public init(height: Int, width: Int, name: String? = nil) throws {
    guard height > 0, width > 0 else {
      throw DLPError.config(
        "Resizing: expected a positive height and width. Received: height=\(height), width=\(width)")
    }
    self.height = height
    self.width = width
    super.init(name: name, defaultPrefix: "resizing")
  }

  public override var className: String { "Resizing" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard inputShapes[0].count == 3 else {
      throw DLPError.shape(
        "Resizing '\(name)' expects images of shape (None, height, width, channels); received \(describeShapes(inputShapes))"
      )
    }
    return [height, width, inputShapes[0][2]]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    let s = inputShapes[0]
    resize = BilinearResize(inHeight: s[0], inWidth: s[1], outHeight: height, outWidth: width, channels: s[2])
  }

  public override func forward(_ p: ForwardPass) {
    let r = resize!
    let (n, m) = (inputShapes[0].reduce(1, *), outputShape.reduce(1, *))
    let (x, y) = (p.inputs[0], p.output)
    Parallel.forEach(p.batch) { _, rows in
      for i in rows { r.forward(x + i * n, into: y + i * m) }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let r = resize!
    let (n, m) = (inputShapes[0].reduce(1, *), outputShape.reduce(1, *))
    let dy = UnsafePointer(p.outputGrad)
    Parallel.forEach(p.batch) { _, rows in
      for i in rows { r.backward(dy + i * m, into: dx + i * n) }
    }
  }

  public override func config() -> [String: JSONValue] {
    [
      "height": JSONValue(height), "width": JSONValue(width), "interpolation": "bilinear",
      "crop_to_aspect_ratio": false, "pad_to_aspect_ratio": false, "fill_mode": "constant",
      "fill_value": 0.0, "antialias": false, "data_format": "channels_last",
    ]
  }
}

extension Resizing {
  public convenience init(config c: LayerConfig) throws {
    try c.requireChannelsLast()
    let interpolation = try c.string("interpolation", default: "bilinear")
    guard interpolation == "bilinear" else {
      throw DLPError.config(
        "\(c.context): only interpolation 'bilinear' is supported. Received: interpolation=\(interpolation)")
    }
    for key in ["crop_to_aspect_ratio", "pad_to_aspect_ratio", "antialias"] where try c.bool(key, default: false) {
      throw DLPError.config("\(c.context): key '\(key)' must be false (not supported)")
    }
    try self.init(height: c.int("height"), width: c.int("width"), name: c.name)
  }
}
