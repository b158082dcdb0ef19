/// Keras's SimpleRNN: h_t = activation(x_t W + b + h_{t-1} R). Weights
/// `simple_rnn_cell/kernel` (inDim, units), `recurrent_kernel` (units, units), `bias` (units).
/// The pass over time is RecurrentLayer's; here is one step, forward and backward.
public final class SimpleRNN: RecurrentLayer {
  public init(_ units: Int, settings: RecurrentSettings = RecurrentSettings(), name: String? = nil)
    throws
  {
    try super.init(
      units: units, settings: settings, gates: 1, cellName: "simple_rnn_cell", name: name,
      defaultPrefix: "simple_rnn")
  }

  /// `SimpleRNN(32, returnSequences: true)`.
  public convenience init(
    _ units: Int, activation: Activation = .tanh, returnSequences: Bool = false,
    returnState: Bool = false,
    goBackwards: Bool = false, dropout: Float = 0, recurrentDropout: Float = 0, name: String? = nil
  ) throws {
    let s = RecurrentSettings(
      activation: activation, returnSequences: returnSequences, returnState: returnState,
      goBackwards: goBackwards,
      dropout: dropout, recurrentDropout: recurrentDropout)
    try self.init(units, settings: s, name: name)
  }

  public override var className: String { "SimpleRNN" }

  override var seedGeneratorFirst: Bool { true }

  override func recreated(name: String, settings: RecurrentSettings) throws -> RecurrentLayer {
    try SimpleRNN(units, settings: settings, name: name)
  }

  // Step s, rows `rows`: z += hPrev R; h = activation(z) (kept in z for backward).
  override func stepForward(_ r: RecurrentRun, rows: Range<Int>, step s: Int) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    stateProduct(
      r, rows: rows, a: r.at(r.hPrev, r0, t), lda: r.steps * u, columns: 0..<u,
      into: r.gatesAt(r0, t),
      ldc: r.steps * u, beta: 1)
    for b in rows {
      let h = r.gatesAt(b, t)
      GateMath.apply(settings.activation, h, count: u)
      let hp = r.at(r.hPrev, b, t)
      let keep = r.keeps(b, step: s)
      // A masked step keeps the state and outputs the previous one (or zeros).
      r.nextH(b, step: s).update(from: keep ? h : hp, count: u)
      if let out = r.output(b, step: s) {
        if keep || !r.zeroOutputForMask {
          out.update(from: keep ? h : hp, count: u)
        } else {
          out.update(repeating: 0, count: u)
        }
      }
    }
  }

  // dz = (carryH + dy) * activation'(h); carryH = dz R^T for step s - 1.
  override func stepBackward(
    _ r: RecurrentRun, rows: Range<Int>, step s: Int, outputGrad dy: UnsafePointer<Float>
  ) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    for b in rows {
      let dh = r.carryH(b)
      let keep = r.keeps(b, step: s)
      if let g = r.outputGrad(dy, b, step: s), keep || !r.zeroOutputForMask {
        for j in 0..<u { dh[j] += g[j] }
      }
      let z = r.gatesAt(b, t)
      guard keep else {
        z.update(repeating: 0, count: u)
        continue
      }
      if u % 8 == 0 {
        for j in stride(from: 0, to: u, by: 8) {
          GateMath.store(
            GateMath.load(dh + j) * GateMath.derivative(settings.activation, GateMath.load(z + j)),
            z + j)
          GateMath.store(.zero, dh + j)
        }
        continue
      }
      for j in 0..<u {
        z[j] = dh[j] * GateMath.derivative(settings.activation, output: z[j])
        dh[j] = 0
      }
    }
    stateBackProduct(
      r, rows: rows, grads: r.gatesAt(r0, t), ldGrads: r.steps * u, columns: 0..<u,
      into: r.carryH(r0),
      ldDst: r.rowTempWidth)
  }

  public override func config() -> [String: JSONValue] { recurrentConfig() }
}

extension SimpleRNN {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try self.init(c.int("units"), settings: c.recurrentSettings(), name: c.name)
  }
}
