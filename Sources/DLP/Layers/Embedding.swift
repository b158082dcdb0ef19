/// Keras's Embedding: row `id` of the (inputDim, outputDim) `embeddings` matrix for each integer
/// id. Shapes per sample: ids (steps...) -> (steps..., outputDim). With `maskZero`, id 0 is
/// padding: the output carries a mask (1 where id != 0) to the layers that use it.
///
/// Ids come from an int32 model input as Int32 bit patterns (no float round trip); from a float
/// tensor they are cast as Keras casts them (truncated). An id outside 0..<inputDim gives NaN
/// rows, as JAX's `take` does (data loaders refuse such ids before training: `validateIds`).
public final class Embedding: Layer {
  public let inputDim: Int
  public let outputDim: Int
  public let maskZero: Bool
  public let embeddingsInitializer: Initializer
  public let embeddingsRegularizer: Regularizer?

  public init(
    inputDim: Int, outputDim: Int,
    embeddingsInitializer: Initializer = .randomUniform(min: -0.05, max: 0.05),
    embeddingsRegularizer: Regularizer? = nil, maskZero: Bool = false, name: String? = nil
  ) throws {
    guard inputDim > 0 else {
      throw DLPError.config(
        "Embedding: `input_dim` must be a positive integer. Received: input_dim=\(inputDim)")
    }
    guard outputDim > 0 else {
      throw DLPError.config(
        "Embedding: `output_dim` must be a positive integer. Received: output_dim=\(outputDim)")
    }
    self.inputDim = inputDim
    self.outputDim = outputDim
    self.maskZero = maskZero
    self.embeddingsInitializer = embeddingsInitializer
    self.embeddingsRegularizer = embeddingsRegularizer
    super.init(name: name, defaultPrefix: "embedding")
  }

  /// `Embedding(10000, 32)`: Keras's positional form.
  public convenience init(
    _ inputDim: Int, _ outputDim: Int, maskZero: Bool = false, name: String? = nil
  ) throws {
    try self.init(inputDim: inputDim, outputDim: outputDim, maskZero: maskZero, name: name)
  }

  public override var className: String { "Embedding" }

  /// An Embedding takes an int32 input's ids bit for bit.
  public override var readsInt32Input: Bool { true }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    return inputShapes[0] + [outputDim]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    addWeight(
      "embeddings", shape: [inputDim, outputDim], initializer: embeddingsInitializer,
      regularizer: embeddingsRegularizer)
  }

  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    maskZero ? .produces(width: steps) : .none
  }

  /// Ids per sample.
  var steps: Int { inputShapes[0].reduce(1, *) }
  var readsIntegers: Bool { inputDTypes.first == .int32 }

  /// The id at flat position `i` of the batch, or -1 when it is not one.
  @inline(__always) func id(_ x: UnsafePointer<Float>, _ i: Int) -> Int {
    if readsIntegers { return Int(UnsafeRawPointer(x).load(fromByteOffset: i * 4, as: Int32.self)) }
    let v = x[i]
    return v.isFinite && Swift.abs(v) < 2_147_483_520 ? Int(Int32(v)) : -1
  }

  public override func forward(_ p: ForwardPass) {
    let n = p.batch * steps
    let d = outputDim
    let table = UnsafePointer(weight(0))
    let x = p.inputs[0]
    let y = p.output
    // y[i, :] = embeddings[id_i, :]  (n = batch * steps rows of outputDim)
    Parallel.forEach(n, minimumPerChunk: Swift.max(1, 4096 / d)) { _, rows in
      for i in rows {
        let k = id(x, i)
        if k >= 0 && k < inputDim {
          Self.copyRow(table + k * d, to: y + i * d, count: d)
        } else {
          (y + i * d).update(repeating: .nan, count: d)
        }
      }
    }
    if let mask = p.outputMask {
      for i in 0..<n { mask[i] = id(x, i) != 0 ? 1 : 0 }
    }
  }

  public override func backward(_ p: BackwardPass) {
    // The ids have no gradient; a float input gets zeros (Keras's cast stops it).
    if let dx = p.inputGrads[0] { dx.update(repeating: 0, count: p.batch * steps) }
    guard p.computeWeightGrads else { return }
    let n = p.batch * steps
    let d = outputDim
    let dTable = weightGrad(0)
    let dy = UnsafePointer(p.outputGrad)
    let x = p.inputs[0]
    if !p.accumulateWeightGrads { dTable.update(repeating: 0, count: inputDim * d) }
    // dEmbeddings[id_i, :] += dy[i, :], positions in order; the columns are split across
    // threads in blocks of 8 (SIMD lanes), so no two threads add into the same value, the sums
    // do not depend on the split, and the work is even however the ids are distributed (a split
    // by vocabulary would give the thread with the frequent words most of it).
    let blocks = (d + 7) / 8
    Parallel.forEach(blocks) { _, owned in
      let lo = owned.lowerBound * 8
      let width = Swift.min(d, owned.upperBound * 8) - lo
      for i in 0..<n {
        let k = id(x, i)
        guard k >= 0 && k < inputDim else { continue }
        Self.addRow(dy + i * d + lo, to: dTable + k * d + lo, count: width)
      }
    }
  }

  /// dst[0..<count] = src[0..<count]: a row of the book's widths (multiples of 8) in SIMD
  /// registers rather than a memmove call per row.
  @inline(__always) static func copyRow(
    _ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = 0
    while j + 8 <= count {
      Elementwise.store8(Elementwise.load8(src + j), dst + j)
      j += 8
    }
    while j < count {
      dst[j] = src[j]
      j += 1
    }
  }

  /// dst[0..<count] += src[0..<count], eight lanes at a time.
  @inline(__always) static func addRow(
    _ src: UnsafePointer<Float>, to dst: UnsafeMutablePointer<Float>, count: Int
  ) {
    var j = 0
    while j + 8 <= count {
      Elementwise.store8(Elementwise.load8(dst + j) + Elementwise.load8(src + j), dst + j)
      j += 8
    }
    while j < count {
      dst[j] += src[j]
      j += 1
    }
  }

  public override func config() -> [String: JSONValue] {
    [
      "input_dim": JSONValue(inputDim),
      "output_dim": JSONValue(outputDim),
      "embeddings_initializer": KerasObjects.initializer(embeddingsInitializer),
      "embeddings_regularizer": KerasObjects.regularizer(embeddingsRegularizer),
      "activity_regularizer": nil,
      "embeddings_constraint": nil,
      "mask_zero": .bool(maskZero),
      "quantization_config": nil,
    ]
  }
}

extension Embedding {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try c.refuseUnsupported([
      "activity_regularizer", "embeddings_constraint", "lora_rank", "quantization_config",
    ])
    try self.init(
      inputDim: c.int("input_dim"), outputDim: c.int("output_dim"),
      embeddingsInitializer: c.initializer(
        "embeddings_initializer", default: .randomUniform(min: -0.05, max: 0.05)),
      embeddingsRegularizer: c.regularizer("embeddings_regularizer"),
      maskZero: c.bool("mask_zero", default: false), name: c.name)
  }

  /// Refuses ids an Embedding fed by a model input cannot look up (Keras's JAX backend would
  /// give NaN rows for them), naming the input, the sample and the id.
  static func validateIds(_ data: ArrayData, for model: Model) throws {
    for (k, input) in model.inputs.enumerated() where k < data.inputs.count {
      let limits = model.nodes.compactMap { n -> Int? in
        guard n.inputs.contains(where: { $0.node === input.node }) else { return nil }
        return (n.layer as? Embedding)?.inputDim
      }
      guard let limit = limits.min() else { continue }
      let t = data.inputs[k]
      let w = Swift.max(t.rowWidth, 1)
      func refuse(_ i: Int, _ v: String) -> DLPError {
        .data(
          "input '\(input.node.layer.name)': sample \(i / w) holds id \(v), outside the Embedding's vocabulary 0..<\(limit) (input_dim); use num_words <= \(limit) or a larger input_dim"
        )
      }
      switch t.storage {
      case .int32(let ids):
        for (i, v) in ids.enumerated() where v < 0 || Int(v) >= limit { throw refuse(i, String(v)) }
      case .uint8(let ids, _):
        for (i, v) in ids.enumerated() where Int(v) >= limit { throw refuse(i, String(v)) }
      case .float32(let values):
        for (i, v) in values.enumerated()
        where !(v >= 0 && v < Float(limit) && v == v.rounded(.towardZero)) {
          throw refuse(i, String(v))
        }
      }
    }
  }
}

extension LayerConfig {
  /// Keys DLP does not implement must be absent or null: refuse rather than ignore them.
  func refuseUnsupported(_ keys: [String]) throws {
    for key in keys where !(json[key]?.isNull ?? true) {
      throw DLPError.config(
        "\(context): key '\(key)' is not supported, got \(json[key]!.serialized())")
    }
  }
}
