/// Keras's Rescaling: y = x * scale + offset (the book's `Rescaling(1./255)`), with a scalar or
/// per-channel (last axis) scale and offset, at training and inference alike.
public final class Rescaling: Layer {
  /// One value, or one per channel. Kept in double precision as Keras's config holds them.
  public let scale: [Double]
  public let offset: [Double]

  public init(scale: [Double], offset: [Double] = [0], name: String? = nil) throws {
    guard !scale.isEmpty, !offset.isEmpty else {
      throw DLPError.config("Rescaling: expected a scale and an offset. Received: scale=\(scale), offset=\(offset)")
    }
    self.scale = scale
    self.offset = offset
    super.init(name: name, defaultPrefix: "rescaling")
  }

  /// `Rescaling(1.0 / 255)`.
  public convenience init(_ scale: Double, offset: Double = 0, name: String? = nil) throws {
    try self.init(scale: [scale], offset: [offset], name: name)
  }

  public override var className: String { "Rescaling" }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    let channels = inputShapes[0].last ?? 1
    for (key, v) in [("scale", scale), ("offset", offset)] where v.count != 1 && v.count != channels {
      throw DLPError.shape(
        "Rescaling '\(name)': \(key) has \(v.count) values, the input has \(channels) channels (\(describeShapes(inputShapes)))"
      )
    }
    return inputShapes[0]
  }

  /// The float32 scale and offset of channel k.
  func coefficients(_ k: Int) -> (Float, Float) {
    (Float(scale[scale.count == 1 ? 0 : k]), Float(offset[offset.count == 1 ? 0 : k]))
  }

  public override func forward(_ p: ForwardPass) {
    let c = inputShapes[0].last ?? 1
    let count = p.batch * inputShapes[0].reduce(1, *)
    let (x, y) = (p.inputs[0], p.output)
    if scale.count == 1 && offset.count == 1 {
      let (s, o) = coefficients(0)
      Parallel.forEach(count, minimumPerChunk: 16_384) { _, range in
        // XLA contracts the multiply-add into one fused operation.
        for i in range { y[i] = o.addingProduct(x[i], s) }
      }
    } else {
      for i in 0..<count {
        let (s, o) = coefficients(i % c)
        y[i] = o.addingProduct(x[i], s)
      }
    }
  }

  public override func backward(_ p: BackwardPass) {
    guard let dx = p.inputGrads[0] else { return }
    let c = inputShapes[0].last ?? 1
    let count = p.batch * inputShapes[0].reduce(1, *)
    for i in 0..<count { dx[i] = p.outputGrad[i] * coefficients(i % c).0 }
  }

  public override func config() -> [String: JSONValue] {
    func value(_ v: [Double]) -> JSONValue { v.count == 1 ? JSONValue(v[0]) : JSONValue(v) }
    return ["scale": value(scale), "offset": value(offset)]
  }
}

extension Rescaling {
  public convenience init(config c: LayerConfig) throws {
    /// A number, a list, or Keras's serialised NumPy array ({"class_name": "__numpy__", "config": {"value": ...}}).
    func values(_ key: String, default d: Double?) throws -> [Double] {
      guard let v = c.json[key], !v.isNull else {
        if let d { return [d] }
        throw c.missing(key, "a number or a list of numbers")
      }
      let inner = v["config"]?["value"] ?? v
      if let x = inner.double { return [x] }
      if let a = inner.array, !a.isEmpty, a.allSatisfy({ $0.double != nil }) { return a.map { $0.double! } }
      throw c.missing(key, "a number or a list of numbers")
    }
    try self.init(scale: values("scale", default: nil), offset: values("offset", default: 0), name: c.name)
  }
}
