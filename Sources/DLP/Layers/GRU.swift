/// Keras's GRU (Cho et al. 2014), gates in Keras's order z (update), r (reset), h (candidate):
///   z = sigma(x W_z + b_z + h R_z + b'_z),  r = sigma(x W_r + b_r + h R_r + b'_r)
///   reset_after (Keras 3's default):  hh = tanh(x W_h + b_h + r (h R_h + b'_h))
///   reset_after=False:                hh = tanh(x W_h + b_h + (r h) R_h)
///   h_t = z h_{t-1} + (1 - z) hh
/// Weights `gru_cell/kernel` (inDim, 3 units), `recurrent_kernel` (units, 3 units), `bias`
/// (2, 3 units) with reset_after (input and recurrent rows b, b'), else (3 units). The pass
/// over time is RecurrentLayer's; here is one step, forward and backward. Kept per step: the
/// gates z, r, hh (in z) and the candidate's recurrent part (seqA: h R_h + b'_h, or r h).
public final class GRU: RecurrentLayer {
  public let resetAfter: Bool

  public init(
    _ units: Int, settings: RecurrentSettings = RecurrentSettings(), resetAfter: Bool = true,
    name: String? = nil
  ) throws {
    self.resetAfter = resetAfter
    try super.init(
      units: units, settings: settings, gates: 3, cellName: "gru_cell", name: name,
      defaultPrefix: "gru")
  }

  /// `GRU(32, recurrentDropout: 0.25)`.
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

  public override var className: String { "GRU" }

  override func recreated(name: String, settings: RecurrentSettings) throws -> RecurrentLayer {
    try GRU(units, settings: settings, resetAfter: resetAfter, name: name)
  }
  override var sequenceBuffers: Int { 1 }
  override var biasShape: [Int] { resetAfter ? [2, 3 * units] : [3 * units] }

  override func stepForward(_ r: RecurrentRun, rows: Range<Int>, step s: Int) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    let (sigma, act) = (settings.recurrentActivation, settings.activation)
    let ldh = r.steps * u
    // The state's part of the gates: temp = h R (+ b') for z, r (and h with reset_after).
    stateProduct(
      r, rows: rows, a: r.at(r.hPrev, r0, t), lda: ldh, columns: 0..<((resetAfter ? 3 : 2) * u),
      into: r.temp(r0),
      ldc: r.rowTempWidth, beta: 0)
    let recurrentBias: UnsafePointer<Float>? =
      settings.useBias && resetAfter ? UnsafePointer(weight(2) + 3 * u) : nil
    for b in rows {
      let (z, inner, hp, part) = (
        r.gatesAt(b, t), r.temp(b), r.at(r.hPrev, b, t), r.at(r.seqA, b, t)
      )
      if let rb = recurrentBias { for j in 0..<(3 * u) { inner[j] += rb[j] } }
      for j in 0..<(2 * u) { z[j] += inner[j] }
      GateMath.apply(sigma, z, count: 2 * u)
      if resetAfter {
        for j in 0..<u {
          part[j] = inner[2 * u + j]
          z[2 * u + j] += z[u + j] * part[j]
        }
      } else {
        for j in 0..<u { part[j] = z[u + j] * hp[j] }
      }
    }
    if !resetAfter {
      // (r h) R_h, after r is known.
      stateProduct(
        r, rows: rows, a: r.at(r.seqA, r0, t), lda: ldh, columns: (2 * u)..<(3 * u),
        into: r.temp(r0) + 2 * u,
        ldc: r.rowTempWidth, beta: 0)
      for b in rows {
        let (z, inner) = (r.gatesAt(b, t), r.temp(b))
        for j in 0..<u { z[2 * u + j] += inner[2 * u + j] }
      }
    }
    for b in rows {
      let (z, hp, nextH) = (r.gatesAt(b, t), r.at(r.hPrev, b, t), r.nextH(b, step: s))
      GateMath.apply(act, z + 2 * u, count: u)
      let keep = r.keeps(b, step: s)
      if keep {
        for j in 0..<u { nextH[j] = z[j] * hp[j] + (1 - z[j]) * z[2 * u + j] }
      } else {
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
    let (t, u) = (r.position(s), units)
    for b in rows {
      let dh = r.carryH(b)
      let keep = r.keeps(b, step: s)
      if let g = r.outputGrad(dy, b, step: s), keep || !r.zeroOutputForMask {
        for j in 0..<u { dh[j] += g[j] }
      }
      let (z, hp, part) = (r.gatesAt(b, t), r.at(r.hPrev, b, t), r.at(r.seqA, b, t))
      guard keep else {
        z.update(repeating: 0, count: 3 * u)
        if resetAfter { part.update(repeating: 0, count: u) }
        continue
      }
      if u % 8 == 0 {
        backwardRow(z: z, hp: hp, part: part, dh: dh)
      } else {
        for j in 0..<u { backwardUnit(j, z: z, hp: hp, part: part, dh: dh) }
      }
      if !resetAfter { r.temp(b).update(repeating: 0, count: u) }
    }
    finishBackward(r, rows: rows, step: s)
  }

  /// Unit j of one row of `stepBackward`: the gates' gradients over z (and, with reset_after,
  /// the candidate's recurrent part), dh scaled to its direct share z dh.
  @inline(__always) func backwardUnit(
    _ j: Int, z: UnsafeMutablePointer<Float>, hp: UnsafePointer<Float>,
    part: UnsafeMutablePointer<Float>,
    dh: UnsafeMutablePointer<Float>
  ) {
    let (u, sigma, act) = (units, settings.recurrentActivation, settings.activation)
    let (zg, rg, hh) = (z[j], z[u + j], z[2 * u + j])
    // h = z h' + (1 - z) hh
    let dz = dh[j] * (hp[j] - hh)
    let dah = dh[j] * (1 - zg) * GateMath.derivative(act, output: hh)
    z[j] = dz * GateMath.derivative(sigma, output: zg)
    z[2 * u + j] = dah
    dh[j] *= zg
    if resetAfter {
      // a_h = x_h + r (h R_h + b'_h): dr = da_h part, d(part) = da_h r
      z[u + j] = dah * part[j] * GateMath.derivative(sigma, output: rg)
      part[j] = dah * rg
    }
  }

  /// `backwardUnit` eight units at a time.
  @inline(__always) func backwardRow(
    z: UnsafeMutablePointer<Float>, hp: UnsafePointer<Float>, part: UnsafeMutablePointer<Float>,
    dh: UnsafeMutablePointer<Float>
  ) {
    typealias G = GateMath
    let (u, sigma, act) = (units, settings.recurrentActivation, settings.activation)
    for j in stride(from: 0, to: u, by: 8) {
      let (zg, rg, hh, dhv) = (
        G.load(z + j), G.load(z + u + j), G.load(z + 2 * u + j), G.load(dh + j)
      )
      let dz = dhv * (G.load(hp + j) - hh)
      let dah = dhv * (1 - zg) * G.derivative(act, hh)
      G.store(dz * G.derivative(sigma, zg), z + j)
      G.store(dah, z + 2 * u + j)
      G.store(dhv * zg, dh + j)
      if resetAfter {
        G.store(dah * G.load(part + j) * G.derivative(sigma, rg), z + u + j)
        G.store(dah * rg, part + j)
      }
    }
  }

  /// The state products of `stepBackward`, once every row's gates have their gradients.
  func finishBackward(_ r: RecurrentRun, rows: Range<Int>, step s: Int) {
    let (t, u, r0) = (r.position(s), units, rows.lowerBound)
    let (ldz, ldh) = (r.steps * 3 * u, r.steps * u)
    let sigma = settings.recurrentActivation
    if resetAfter {
      // carryH += [dz_z, dz_r] R_zr^T + d(part) R_h^T
      stateBackProduct(
        r, rows: rows, grads: r.gatesAt(r0, t), ldGrads: ldz, columns: 0..<(2 * u),
        into: r.carryH(r0),
        ldDst: r.rowTempWidth)
      stateBackProduct(
        r, rows: rows, grads: r.at(r.seqA, r0, t), ldGrads: ldh, columns: (2 * u)..<(3 * u),
        into: r.carryH(r0),
        ldDst: r.rowTempWidth)
      return
    }
    // reset_after=False: d(r h) = da_h R_h^T, then dr = d(r h) h and dh' += d(r h) r.
    stateBackProduct(
      r, rows: rows, grads: r.gatesAt(r0, t) + 2 * u, ldGrads: ldz, columns: (2 * u)..<(3 * u),
      into: r.temp(r0),
      ldDst: r.rowTempWidth)
    for b in rows where r.keeps(b, step: s) {
      let (z, hp, drh, dh) = (r.gatesAt(b, t), r.at(r.hPrev, b, t), r.temp(b), r.carryH(b))
      for j in 0..<u {
        let rg = z[u + j]
        z[u + j] = drh[j] * hp[j] * GateMath.derivative(sigma, output: rg)
        dh[j] += drh[j] * rg
      }
    }
    stateBackProduct(
      r, rows: rows, grads: r.gatesAt(r0, t), ldGrads: ldz, columns: 0..<(2 * u),
      into: r.carryH(r0),
      ldDst: r.rowTempWidth)
  }

  override func weightGradients(_ r: RecurrentRun, accumulate: Bool) {
    let (u, gu, rows) = (units, r.gateWidth, r.batch * r.steps)
    inputKernelGradient(r, accumulate: accumulate)
    stateKernelGradient(
      r, columns: 0..<(2 * u), states: r.hPrev, grads: r.z, ldGrads: gu, accumulate: accumulate)
    // The candidate's block: h^T d(part) (reset_after), or (r h)^T da_h.
    stateKernelGradient(
      r, columns: (2 * u)..<gu, states: resetAfter ? r.hPrev : r.seqA,
      grads: resetAfter ? r.seqA : r.z + 2 * u,
      ldGrads: resetAfter ? u : gu, accumulate: accumulate)
    guard settings.useBias else { return }
    let db = weightGrad(2)
    Elementwise.columnSums(r.z, rows: rows, width: gu, into: db, accumulate: accumulate)
    guard resetAfter else { return }
    // The recurrent row b': the gates' sums for z and r (again, into the free row scratch), and
    // d(part)'s for h.
    Elementwise.columnSums(r.z, rows: rows, width: gu, into: r.rowTemp, accumulate: false)
    for j in 0..<(2 * u) { db[gu + j] = accumulate ? db[gu + j] + r.rowTemp[j] : r.rowTemp[j] }
    Elementwise.columnSums(
      r.seqA, rows: rows, width: u, into: db + gu + 2 * u, accumulate: accumulate)
  }

  public override func config() -> [String: JSONValue] {
    var c = recurrentConfig()
    c["recurrent_activation"] = JSONValue(settings.recurrentActivation.rawValue)
    c["reset_after"] = .bool(resetAfter)
    return c
  }
}

extension GRU {
  /// From Keras's config; errors name the layer and the key.
  public convenience init(config c: LayerConfig) throws {
    try self.init(
      c.int("units"), settings: c.recurrentSettings(),
      resetAfter: c.bool("reset_after", default: true), name: c.name)
  }
}
