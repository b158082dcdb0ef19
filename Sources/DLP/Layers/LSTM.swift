/// Keras's LSTM (Hochreiter 1997), gates in Keras's order i, f, c, o:
///   z = x_t W + h_{t-1} R + b;  i = sigma(z_i), f = sigma(z_f), g = tanh(z_c), o = sigma(z_o)
///   c_t = f c_{t-1} + i g;  h_t = o tanh(c_t)
/// (sigma: recurrent_activation, tanh: activation). Weights `lstm_cell/kernel` (inDim, 4 units),
/// `recurrent_kernel` (units, 4 units), `bias` (4 units, the forget block starting at 1 with
/// unit_forget_bias). The pass over time is RecurrentLayer's; here is one step, forward and
/// backward. Kept for backward per step: the gates (in z), c_{t-1} (seqA), tanh(c_t) (seqB).
public final class LSTM: RecurrentLayer {
  public let unitForgetBias: Bool

  public init(
    _ units: Int, settings: RecurrentSettings = RecurrentSettings(), unitForgetBias: Bool = true,
    name: String? = nil
  ) throws {
    self.unitForgetBias = unitForgetBias
    try super.init(
      units: units, settings: settings, gates: 4, cellName: "lstm_cell", name: name,
      defaultPrefix: "lstm")
  }

  /// `LSTM(32, returnSequences: true, recurrentDropout: 0.25)`.
  public convenience init(
    _ units: Int, returnSequences: Bool = false, returnState: Bool = false,
    goBackwards: Bool = false,
    dropout: Float = 0, recurrentDropout: Float = 0, name: String? = nil
  ) throws {
    let s = RecurrentSettings(
      returnSequences: returnSequences, returnState: returnState, goBackwards: goBackwards,
      dropout: dropout,
      recurrentDropout: recurrentDropout)
    try self.init(units, settings: s, name: name)
  }

  public override var className: String { "LSTM" }

  override func recreated(name: String, settings: RecurrentSettings) throws -> RecurrentLayer {
    try LSTM(units, settings: settings, unitForgetBias: unitForgetBias, name: name)
  }
  override var stateCount: Int { 2 }
  override var sequenceBuffers: Int { 2 }

  /// unit_forget_bias: Keras concatenates bias_initializer(units), ones(units),
  /// bias_initializer(2 units), each drawn from the one default seed.
  public override func fillWeight(
    _ i: Int, _ buffer: UnsafeMutableBufferPointer<Float>, kerasSeed: UInt32
  ) {
    guard i == 2, unitForgetBias, let base = buffer.baseAddress else {
      return super.fillWeight(i, buffer, kerasSeed: kerasSeed)
    }
    let u = units
    let initializer = settings.biasInitializer
    initializer.fill(.init(start: base, count: u), shape: [u], kerasSeed: kerasSeed)
    (base + u).update(repeating: 1, count: u)
    initializer.fill(.init(start: base + 2 * u, count: 2 * u), shape: [2 * u], kerasSeed: kerasSeed)
  }

  override func resetStates(_ r: RecurrentRun) {
    super.resetStates(r)
    for b in 0..<r.batch { r.at(r.seqA, b, r.position(0)).update(repeating: 0, count: units) }
  }

  /// Where step `s` leaves row `b`'s c: the next step's slot, or finals after the last.
  @inline(__always) func nextC(_ r: RecurrentRun, _ b: Int, step s: Int) -> UnsafeMutablePointer<
    Float
  > {
    s + 1 < r.steps ? r.at(r.seqA, b, r.position(s + 1)) : r.finals + b * 2 * units + units
  }

  override func stepForward(_ r: RecurrentRun, rows: Range<Int>, step s: Int) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    // z[rows] += hPrev R  (rows, 4 units)
    stateProduct(
      r, rows: rows, a: r.at(r.hPrev, r0, t), lda: r.steps * u, columns: 0..<(4 * u),
      into: r.gatesAt(r0, t),
      ldc: r.steps * 4 * u, beta: 1)
    let (sigma, act) = (settings.recurrentActivation, settings.activation)
    for b in rows {
      let z = r.gatesAt(b, t)
      GateMath.apply(sigma, z, count: 2 * u)  // i, f
      GateMath.apply(act, z + 2 * u, count: u)  // g
      GateMath.apply(sigma, z + 3 * u, count: u)  // o
      let (cp, tc, hp) = (r.at(r.seqA, b, t), r.at(r.seqB, b, t), r.at(r.hPrev, b, t))
      let (nextC, nextH) = (nextC(r, b, step: s), r.nextH(b, step: s))
      let keep = r.keeps(b, step: s)
      if keep {
        for j in 0..<u {
          let c = z[u + j] * cp[j] + z[j] * z[2 * u + j]
          nextC[j] = c
          tc[j] = c
        }
        GateMath.apply(act, tc, count: u)
        for j in 0..<u { nextH[j] = z[3 * u + j] * tc[j] }
      } else {
        // A masked step keeps both states.
        nextC.update(from: cp, count: u)
        nextH.update(from: hp, count: u)
      }
      if let out = r.output(b, step: s) {
        if keep || !r.zeroOutputForMask {
          out.update(from: keep ? nextH : hp, count: u)
        } else {
          out.update(repeating: 0, count: u)
        }
      }
    }
  }

  override func stepBackward(
    _ r: RecurrentRun, rows: Range<Int>, step s: Int, outputGrad dy: UnsafePointer<Float>
  ) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    let (sigma, act) = (settings.recurrentActivation, settings.activation)
    for b in rows {
      let (dh, dc) = (r.carryH(b), r.carryC(b))
      let keep = r.keeps(b, step: s)
      if let g = r.outputGrad(dy, b, step: s), keep || !r.zeroOutputForMask {
        for j in 0..<u { dh[j] += g[j] }
      }
      let z = r.gatesAt(b, t)
      guard keep else {
        // The carries pass a masked step unchanged; it adds nothing to the weights.
        z.update(repeating: 0, count: 4 * u)
        continue
      }
      let (cp, tc) = (r.at(r.seqA, b, t), r.at(r.seqB, b, t))
      if u % 8 == 0 {
        backwardRow(z: z, cp: cp, tc: tc, dh: dh, dc: dc)
        continue
      }
      for j in 0..<u {
        let (i, f, g, o) = (z[j], z[u + j], z[2 * u + j], z[3 * u + j])
        // h = o tanh(c): do = dh tanh(c), dc += dh o tanh'(c)
        let dO = dh[j] * tc[j]
        let dcj = dc[j] + dh[j] * o * GateMath.derivative(act, output: tc[j])
        z[j] = dcj * g * GateMath.derivative(sigma, output: i)
        z[u + j] = dcj * cp[j] * GateMath.derivative(sigma, output: f)
        z[2 * u + j] = dcj * i * GateMath.derivative(act, output: g)
        z[3 * u + j] = dO * GateMath.derivative(sigma, output: o)
        dc[j] = dcj * f
        dh[j] = 0
      }
    }
    // carryH = dz R^T  (rows, units)
    stateBackProduct(
      r, rows: rows, grads: r.gatesAt(r0, t), ldGrads: r.steps * 4 * u, columns: 0..<(4 * u),
      into: r.carryH(r0),
      ldDst: r.rowTempWidth)
  }

  /// One row of `stepBackward` eight units at a time (the same formulas).
  @inline(__always) func backwardRow(
    z: UnsafeMutablePointer<Float>, cp: UnsafePointer<Float>, tc: UnsafePointer<Float>,
    dh: UnsafeMutablePointer<Float>,
    dc: UnsafeMutablePointer<Float>
  ) {
    typealias G = GateMath
    let (u, sigma, act) = (units, settings.recurrentActivation, settings.activation)
    for j in stride(from: 0, to: u, by: 8) {
      let (i, f, g, o) = (
        G.load(z + j), G.load(z + u + j), G.load(z + 2 * u + j), G.load(z + 3 * u + j)
      )
      let (t, dhv) = (G.load(tc + j), G.load(dh + j))
      let dcj = G.load(dc + j) + dhv * o * G.derivative(act, t)
      G.store(dcj * g * G.derivative(sigma, i), z + j)
      G.store(dcj * G.load(cp + j) * G.derivative(sigma, f), z + u + j)
      G.store(dcj * i * G.derivative(act, g), z + 2 * u + j)
      G.store(dhv * t * G.derivative(sigma, o), z + 3 * u + j)
      G.store(dcj * f, dc + j)
      G.store(.zero, dh + j)
    }
  }

  public override func config() -> [String: JSONValue] {
    var c = recurrentConfig()
    c["recurrent_activation"] = JSONValue(settings.recurrentActivation.rawValue)
    c["unit_forget_bias"] = .bool(unitForgetBias)
    return c
  }
}

extension LSTM {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try self.init(
      c.int("units"), settings: c.recurrentSettings(),
      unitForgetBias: c.bool("unit_forget_bias", default: true),
      name: c.name)
  }
}
