/// Keras's Bidirectional: the sequence through a copy of a recurrent layer (`forward_NAME`) and
/// through a copy that goes backwards (`backward_NAME`), the two outputs merged (concat, sum,
/// mul, ave). With `return_sequences` the backward output is put back in time order first, and
/// masked steps output zeros (Keras forces zero_output_for_mask on both).
///
/// Weights: the forward layer's then the backward layer's, named
/// `forward_NAME/CELL/kernel`, ... Shapes per sample: x (steps, inDim) -> (steps, 2 units) for
/// concat with return_sequences, (2 units) without; units instead of 2 units for the others.
public final class Bidirectional: Layer, MultiOutputLayer {
  public enum MergeMode: String, Sendable, CaseIterable { case concat, sum, mul, ave }

  public let forwardLayer: RecurrentLayer
  public let backwardLayer: RecurrentLayer
  public let mergeMode: MergeMode
  /// Whether the backward layer was given (or read from a config): Keras then draws its seeds
  /// before re-creating the forward one.
  let givenBackward: Bool

  public init(
    _ layer: RecurrentLayer, mergeMode: MergeMode = .concat, backwardLayer: RecurrentLayer? = nil,
    name: String? = nil
  ) throws {
    func stripped(_ s: String, _ prefix: String) -> String {
      s.hasPrefix(prefix) ? String(s.dropFirst(prefix.count)) : s
    }
    var forward = layer.settings
    forward.zeroOutputForMask = forward.returnSequences
    forwardLayer = try layer.recreated(
      name: "forward_" + stripped(layer.name, "forward_"), settings: forward)
    // Keras re-creates the backward layer with go_backwards=True (a layer that already goes
    // backwards is refused below, as Keras refuses it).
    var backward = forward
    backward.goBackwards = true
    if let given = backwardLayer { backward = given.settings }
    guard backward.goBackwards != layer.settings.goBackwards else {
      throw DLPError.config(
        "Bidirectional: Forward layer and backward layer should have different `go_backwards` value. Received: forward_layer.go_backwards \(layer.settings.goBackwards), backward_layer.go_backwards=\(backward.goBackwards)"
      )
    }
    for (what, a, b) in [
      ("return_sequences", layer.settings.returnSequences, backward.returnSequences),
      ("return_state", layer.settings.returnState, backward.returnState),
    ] where a != b {
      throw DLPError.config(
        "Bidirectional: Forward layer and backward layer are expected to have the same value for attribute \"\(what)\", got \"\(a)\" for forward layer and \"\(b)\" for backward layer"
      )
    }
    backward.zeroOutputForMask = backward.returnSequences
    if let given = backwardLayer {
      self.backwardLayer = try given.recreated(name: given.name, settings: backward)
    } else {
      self.backwardLayer = try layer.recreated(
        name: "backward_" + stripped(layer.name, "backward_"), settings: backward)
    }
    givenBackward = backwardLayer != nil
    self.mergeMode = mergeMode
    super.init(name: name, defaultPrefix: "bidirectional")
  }

  public override var className: String { "Bidirectional" }

  var returnSequences: Bool { forwardLayer.settings.returnSequences }
  var returnState: Bool { forwardLayer.settings.returnState }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    _ = try forwardLayer.computeOutputShape(inputShapes)
    let (fu, bu) = (forwardLayer.units, backwardLayer.units)
    guard fu == bu || mergeMode == .concat else {
      throw DLPError.shape(
        "Bidirectional '\(name)': merge mode \(mergeMode.rawValue) needs layers of equal units, got \(fu) and \(bu)"
      )
    }
    let last = mergeMode == .concat ? fu + bu : fu
    let y = returnSequences ? [inputShapes[0][0], last] : [last]
    guard returnState else { return y }
    return [y.reduce(1, *) + forwardLayer.stateCount * fu + backwardLayer.stateCount * bu]
  }

  public override func build(_ inputShapes: [[Int]]) throws {
    for sub in [forwardLayer, backwardLayer] {
      _ = try sub.ensureBuilt(inputShapes)
      for spec in sub.weightSpecs {
        addWeight(
          "\(sub.name)/\(spec.name)", shape: spec.shape, initializer: spec.initializer,
          regularizer: spec.regularizer)
      }
    }
  }

  /// Keras builds the layer it is given (drawing its seeds, then throwing it away), then
  /// re-creates the forward one from its config, and the backward one unless given.
  public override var kerasSeedDraws: [KerasSeedDraw] {
    let nf = forwardLayer.weightSpecs.count
    let gf = forwardLayer.kerasSeedGenerators
    func shifted(_ draws: [KerasSeedDraw], weights: Int, generators: Int) -> [KerasSeedDraw] {
      draws.map {
        switch $0 {
        case .weight(let i): return .weight(i + weights)
        case .generator(let j): return .generator(j + generators)
        case .discarded: return .discarded
        }
      }
    }
    let forward = forwardLayer.kerasSeedDraws
    let backward = shifted(backwardLayer.kerasSeedDraws, weights: nf, generators: gf)
    let original = [KerasSeedDraw](repeating: .discarded, count: forward.count)
    return original + (givenBackward ? backward + forward : forward + backward)
  }

  /// `layers/bidirectional/forward_layer/cell/vars`, then the backward layer's.
  public override var kerasVariableGroups: [(path: String, count: Int)] {
    [
      ("forward_layer/cell/vars", forwardLayer.weightSpecs.count),
      ("backward_layer/cell/vars", backwardLayer.weightSpecs.count),
    ]
  }

  public override var kerasSeedGenerators: Int {
    forwardLayer.kerasSeedGenerators + backwardLayer.kerasSeedGenerators
  }

  /// The inner layers read their weights and seeds from their part of this layer's.
  public override func bindingsChanged() {
    let nf = forwardLayer.weightSpecs.count
    let gf = forwardLayer.kerasSeedGenerators
    if let b = binding, b.offsets.count == weightSpecs.count {
      forwardLayer.binding = ParameterBinding(store: b.store, offsets: Array(b.offsets[..<nf]))
      backwardLayer.binding = ParameterBinding(store: b.store, offsets: Array(b.offsets[nf...]))
    }
    if generatorSeeds.count == kerasSeedGenerators {
      forwardLayer.generatorSeeds = Array(generatorSeeds[..<gf])
      backwardLayer.generatorSeeds = Array(generatorSeeds[gf...])
    }
  }

  public override func fillWeight(
    _ i: Int, _ buffer: UnsafeMutableBufferPointer<Float>, kerasSeed: UInt32
  ) {
    let nf = forwardLayer.weightSpecs.count
    if i < nf {
      forwardLayer.fillWeight(i, buffer, kerasSeed: kerasSeed)
    } else {
      backwardLayer.fillWeight(i - nf, buffer, kerasSeed: kerasSeed)
    }
  }

  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    returnSequences && inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  /// [merged y] and, with `return_state`, the forward layer's states then the backward one's.
  public var kerasOutputShapes: [[Int]] {
    let (fu, bu) = (forwardLayer.units, backwardLayer.units)
    let last = mergeMode == .concat ? fu + bu : fu
    let y = returnSequences ? [inputShapes[0][0], last] : [last]
    guard returnState else { return [y] }
    return [y] + Array(forwardLayer.kerasOutputShapes.dropFirst())
      + Array(backwardLayer.kerasOutputShapes.dropFirst())
  }

  // MARK: the pass

  /// Each direction's scratch, then its output, its output gradient, and a second input
  /// gradient.
  public override func scratchWidths() -> [Int] {
    forwardLayer.scratchWidths() + backwardLayer.scratchWidths() + [
      forwardLayer.outputWidth, backwardLayer.outputWidth, forwardLayer.outputWidth,
      backwardLayer.outputWidth,
      inputShapes[0].reduce(1, *),
    ]
  }

  private func runs(
    x: UnsafePointer<Float>, mask: UnsafePointer<Float>?, scratch: [UnsafeMutablePointer<Float>],
    batch: Int,
    training: Bool
  ) -> (RecurrentRun, RecurrentRun) {
    let n = RecurrentRun.scratchCount
    return (
      RecurrentRun(
        layer: forwardLayer, x: x, y: scratch[2 * n], mask: mask, scratch: scratch[0..<n],
        batch: batch,
        training: training),
      RecurrentRun(
        layer: backwardLayer, x: x, y: scratch[2 * n + 1], mask: mask,
        scratch: scratch[n..<(2 * n)], batch: batch,
        training: training)
    )
  }

  public override func forward(_ p: ForwardPass) {
    let (f, b) = runs(
      x: p.inputs[0], mask: p.inputMasks.first ?? nil, scratch: p.scratch, batch: p.batch,
      training: p.training)
    forwardLayer.runForward(f, randomness: p.randomness)
    backwardLayer.runForward(b, randomness: p.randomness)
    let (fu, bu) = (forwardLayer.units, backwardLayer.units)
    let steps = returnSequences ? f.steps : 1
    let width = mergeMode == .concat ? fu + bu : fu
    let outWidth = outputShape.reduce(1, *)
    for n in 0..<p.batch {
      let out = p.output + n * outWidth
      let (fy, by) = (f.y + n * f.outputWidth, b.y + n * b.outputWidth)
      // The backward output at processing step s is time steps - 1 - s.
      for t in 0..<steps {
        let (fr, br, o) = (fy + t * fu, by + (steps - 1 - t) * bu, out + t * width)
        switch mergeMode {
        case .concat:
          o.update(from: fr, count: fu)
          (o + fu).update(from: br, count: bu)
        case .sum: for j in 0..<fu { o[j] = fr[j] + br[j] }
        case .ave: for j in 0..<fu { o[j] = (fr[j] + br[j]) / 2 }
        case .mul: for j in 0..<fu { o[j] = fr[j] * br[j] }
        }
      }
      guard returnState else { continue }
      // [merged y, forward states, backward states], as Keras returns them.
      let (fs, bs) = (forwardLayer.stateCount * fu, backwardLayer.stateCount * bu)
      (out + steps * width).update(from: fy + forwardLayer.sequenceOutputWidth, count: fs)
      (out + steps * width + fs).update(from: by + backwardLayer.sequenceOutputWidth, count: bs)
    }
  }

  public override func backward(_ p: BackwardPass) {
    let n = RecurrentRun.scratchCount
    let (f, b) = runs(
      x: p.inputs[0], mask: p.inputMasks.first ?? nil, scratch: p.scratch, batch: p.batch,
      training: true)
    let (fGrad, bGrad, dxBackward) = (
      p.scratch[2 * n + 2], p.scratch[2 * n + 3], p.scratch[2 * n + 4]
    )
    let (fu, bu) = (forwardLayer.units, backwardLayer.units)
    let steps = returnSequences ? f.steps : 1
    let width = mergeMode == .concat ? fu + bu : fu
    let outWidth = outputShape.reduce(1, *)
    for row in 0..<p.batch {
      let g = UnsafePointer(p.outputGrad + row * outWidth)
      let (fy, by) = (f.y + row * f.outputWidth, b.y + row * b.outputWidth)
      let (fg, bg) = (fGrad + row * f.outputWidth, bGrad + row * b.outputWidth)
      for t in 0..<steps {
        let (gt, bt) = (g + t * width, steps - 1 - t)
        let (fgt, bgt) = (fg + t * fu, bg + bt * bu)
        switch mergeMode {
        case .concat:
          fgt.update(from: gt, count: fu)
          bgt.update(from: gt + fu, count: bu)
        case .sum:
          fgt.update(from: gt, count: fu)
          bgt.update(from: gt, count: fu)
        case .ave:
          for j in 0..<fu {
            fgt[j] = gt[j] / 2
            bgt[j] = gt[j] / 2
          }
        case .mul:
          let (fr, br) = (fy + t * fu, by + bt * bu)
          for j in 0..<fu {
            fgt[j] = gt[j] * br[j]
            bgt[j] = gt[j] * fr[j]
          }
        }
      }
      guard returnState else { continue }
      let (fs, bs) = (forwardLayer.stateCount * fu, backwardLayer.stateCount * bu)
      (fg + forwardLayer.sequenceOutputWidth).update(from: g + steps * width, count: fs)
      (bg + backwardLayer.sequenceOutputWidth).update(from: g + steps * width + fs, count: bs)
    }
    let dx = p.inputGrads[0]
    forwardLayer.runBackward(
      f, outputGrad: fGrad, inputGrad: dx, weightGrads: p.computeWeightGrads,
      accumulate: p.accumulateWeightGrads)
    backwardLayer.runBackward(
      b, outputGrad: bGrad, inputGrad: dx == nil ? nil : dxBackward,
      weightGrads: p.computeWeightGrads,
      accumulate: p.accumulateWeightGrads)
    if let dx {
      for i in 0..<(p.batch * inputShapes[0].reduce(1, *)) { dx[i] += dxBackward[i] }
    }
  }

  public override func config() -> [String: JSONValue] {
    [
      "merge_mode": .string(mergeMode.rawValue),
      "layer": .object(KerasModelWriter.layerEntry(forwardLayer)),
      "backward_layer": .object(KerasModelWriter.layerEntry(backwardLayer)),
    ]
  }
}

extension Bidirectional {
  /// From Keras's config: `layer` (the forward layer) and `backward_layer`, each a serialised
  /// recurrent layer.
  public convenience init(config c: LayerConfig) throws {
    let mode = try c.string("merge_mode", default: "concat")
    guard let merge = MergeMode(rawValue: mode) else {
      throw DLPError.config(
        "\(c.context): merge_mode '\(mode)' is not supported; expected concat, sum, mul or ave (None returns two outputs, which DLP does not support yet)"
      )
    }
    func recurrent(_ key: String) throws -> RecurrentLayer? {
      guard let entry = c.json[key], !entry.isNull else { return nil }
      guard let layer = try KerasModelReader.makeLayer(entry) as? RecurrentLayer else {
        throw DLPError.config("\(c.context): '\(key)' must be a SimpleRNN, GRU or LSTM layer")
      }
      return layer
    }
    guard let forward = try recurrent("layer") else {
      throw c.missing("layer", "a recurrent layer")
    }
    try self.init(
      forward, mergeMode: merge, backwardLayer: recurrent("backward_layer"), name: c.name)
  }
}
