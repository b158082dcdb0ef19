/// The settings every Keras recurrent layer (SimpleRNN, GRU, LSTM) takes, with Keras 3's
/// defaults.
public struct RecurrentSettings: Sendable, Equatable {
  public var activation: Activation = .tanh
  /// The gates' activation (GRU, LSTM).
  public var recurrentActivation: Activation = .sigmoid
  public var useBias = true
  public var kernelInitializer: Initializer = .glorotUniform
  public var recurrentInitializer: Initializer = .orthogonal(gain: 1)
  public var biasInitializer: Initializer = .zeros
  public var kernelRegularizer: Regularizer? = nil
  public var recurrentRegularizer: Regularizer? = nil
  public var biasRegularizer: Regularizer? = nil
  /// Dropout of the inputs and of the recurrent state, one mask per sequence (the same at every
  /// step), as the book recommends.
  public var dropout: Float = 0
  public var recurrentDropout: Float = 0
  public var seed: Int? = nil
  public var returnSequences = false
  public var returnState = false
  public var goBackwards = false
  /// Masked steps output zeros instead of the previous output (Bidirectional sets it).
  public var zeroOutputForMask = false
  /// Keras's unroll: the same numbers either way here; kept for the config.
  public var unroll = false

  public init() {}

  /// The settings the layers' short initialisers take (`LSTM(32, returnSequences: true)`).
  public init(
    activation: Activation = .tanh, returnSequences: Bool, returnState: Bool, goBackwards: Bool,
    dropout: Float, recurrentDropout: Float
  ) {
    (self.activation, self.returnSequences, self.returnState) = (
      activation, returnSequences, returnState
    )
    (self.goBackwards, self.dropout, self.recurrentDropout) = (
      goBackwards, dropout, recurrentDropout
    )
  }
}

/// Keras's RNN around a cell: what SimpleRNN, GRU and LSTM share. Weights: `CELL/kernel`
/// (inDim, gates * units), `CELL/recurrent_kernel` (units, gates * units), `CELL/bias`; the
/// pass over time is in `RecurrentLayer+Pass.swift`, each cell's step in its own file.
///
/// Shapes per sample: x (steps, inDim) -> y (steps, units) with `returnSequences`, else
/// (units); with `returnState` the final states follow in the same row: [y, h (units), c
/// (units, LSTM)] (the functional API splits them, see `TensorSlice`).
public class RecurrentLayer: Layer, MultiOutputLayer {
  public let units: Int
  public let settings: RecurrentSettings
  /// Gate blocks of `units` columns in the kernels: 1 (SimpleRNN), 3 (GRU), 4 (LSTM).
  let gates: Int
  /// Keras's cell name, the middle part of the weight names (`lstm_cell`).
  let cellName: String

  init(
    units: Int, settings s: RecurrentSettings, gates: Int, cellName: String, name: String?,
    defaultPrefix: String
  ) throws {
    let kind = defaultPrefix.uppercased()
    guard units > 0 else {
      throw DLPError.config(
        "\(kind): Received an invalid value for argument `units`, expected a positive integer. Received: units=\(units)"
      )
    }
    for (key, rate) in [("dropout", s.dropout), ("recurrent_dropout", s.recurrentDropout)]
    where !(0...1).contains(rate) {
      throw DLPError.config("\(kind): expected \(key) in [0, 1]. Received: \(key)=\(rate)")
    }
    if s.activation == .softmax || s.recurrentActivation == .softmax {
      throw DLPError.config(
        "\(kind): softmax is not an element-wise activation; use tanh, sigmoid, relu, elu or linear"
      )
    }
    if let seed = s.seed, !(0...Int(UInt32.max)).contains(seed) {
      throw DLPError.config("\(kind): expected a seed in 0...2^32-1. Received: seed=\(seed)")
    }
    self.units = units
    self.settings = s
    self.gates = gates
    self.cellName = cellName
    super.init(name: name, defaultPrefix: defaultPrefix)
  }

  // MARK: shapes and weights

  var steps: Int { inputShapes[0][0] }
  var inDim: Int { inputShapes[0][1] }
  /// h, or h and c (LSTM).
  var stateCount: Int { 1 }
  /// Values per sample of y (before any states).
  var sequenceOutputWidth: Int { settings.returnSequences ? steps * units : units }
  var outputWidth: Int { sequenceOutputWidth + (settings.returnState ? stateCount * units : 0) }

  public override func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    guard inputShapes[0].count == 2 else {
      throw DLPError.shape(
        "\(className) '\(name)' expects inputs of shape (None, timesteps, features); received \(describeShapes(inputShapes))"
      )
    }
    let y = settings.returnSequences ? [inputShapes[0][0], units] : [units]
    guard settings.returnState else { return y }
    return [y.reduce(1, *) + stateCount * units]
  }

  /// The per-sample shapes of Keras's outputs: [y] or [y, h(, c)] with `returnState`.
  public var kerasOutputShapes: [[Int]] {
    let y = settings.returnSequences ? [steps, units] : [units]
    return settings.returnState ? [y] + Array(repeating: [units], count: stateCount) : [y]
  }

  /// The bias's shape (GRU's reset_after keeps an input and a recurrent row).
  var biasShape: [Int] { [gates * units] }

  public override func build(_ inputShapes: [[Int]]) throws {
    let s = settings
    addWeight(
      "\(cellName)/kernel", shape: [inputShapes[0][1], gates * units],
      initializer: s.kernelInitializer,
      regularizer: s.kernelRegularizer)
    addWeight(
      "\(cellName)/recurrent_kernel", shape: [units, gates * units],
      initializer: s.recurrentInitializer,
      regularizer: s.recurrentRegularizer)
    if s.useBias {
      addWeight(
        "\(cellName)/bias", shape: biasShape, initializer: s.biasInitializer,
        regularizer: s.biasRegularizer)
    }
  }

  // MARK: seeds, masks

  /// Every Keras cell makes a SeedGenerator (for its dropout masks), dropout or not.
  /// Keras keeps an RNN's weights in its cell: `layers/lstm/cell/vars`.
  public override var kerasVariableGroups: [(path: String, count: Int)] {
    [("cell/vars", weightSpecs.count)]
  }

  public override var kerasSeedGenerators: Int { settings.seed == nil ? 1 : 0 }

  /// The cell's constructor draws for its kernel, recurrent and bias initialisers (the bias's
  /// even without a bias), then for its SeedGenerator; known before the layer is built.
  public override var kerasSeedDraws: [KerasSeedDraw] {
    let s = settings
    var draws: [KerasSeedDraw] = []
    if s.kernelInitializer.drawsKerasSeed { draws.append(.weight(0)) }
    if s.recurrentInitializer.drawsKerasSeed { draws.append(.weight(1)) }
    if s.biasInitializer.drawsKerasSeed { draws.append(s.useBias ? .weight(2) : .discarded) }
    return seedGeneratorFirst
      ? (0..<kerasSeedGenerators).map { .generator($0) } + draws
      : draws + (0..<kerasSeedGenerators).map { .generator($0) }
  }

  /// SimpleRNNCell makes its SeedGenerator before its initialisers.
  var seedGeneratorFirst: Bool { false }

  /// The same kind of layer with other settings and name (Bidirectional's copies).
  func recreated(name: String, settings: RecurrentSettings) throws -> RecurrentLayer {
    throw DLPError.config("\(className) cannot be copied")
  }

  /// The returned sequence keeps the input's mask (Keras's RNN.compute_mask); a last output
  /// has none.
  public override func maskPropagation(inputMasked: [Bool]) -> MaskPropagation {
    settings.returnSequences && inputMasked.first == true ? .passThrough(input: 0) : .none
  }

  /// The first word of the dropout masks' keys.
  var generatorSeed: UInt32 {
    settings.seed.map { UInt32(truncatingIfNeeded: $0) } ?? generatorSeeds.first ?? 0
  }

  /// Keras draws `dropout_mask_count` masks per rate: one, or one per gate when recurrent
  /// dropout switches the cell to its implementation 1 (GRU, LSTM).
  var inputMaskGroups: Int { gates > 1 && settings.recurrentDropout > 0 ? gates : 1 }
  var recurrentMaskGroups: Int { gates > 1 ? gates : 1 }
  /// Keras applies (and draws) a mask only for a rate strictly between 0 and 1.
  var dropsInputs: Bool { settings.dropout > 0 && settings.dropout < 1 }
  var dropsState: Bool { settings.recurrentDropout > 0 && settings.recurrentDropout < 1 }
  /// Seed-generator draws per call of the layer.
  var drawsPerCall: Int {
    (dropsInputs ? inputMaskGroups : 0) + (dropsState ? recurrentMaskGroups : 0)
  }

  // MARK: the pass (RecurrentLayer+Pass.swift) and the cell's step (each subclass)

  /// (steps, units) buffers the cell keeps besides hPrev (`RecurrentRun.seqA`, `seqB`).
  var sequenceBuffers: Int { 0 }

  public override func scratchWidths() -> [Int] {
    RecurrentRun.scratchWidths(
      steps: steps, inDim: inDim, units: units, gates: gates, sequenceBuffers: sequenceBuffers,
      dropInputs: dropsInputs, dropState: dropsState, inputMaskGroups: inputMaskGroups,
      stateMaskGroups: recurrentMaskGroups)
  }

  public override func forward(_ p: ForwardPass) {
    let run = RecurrentRun(
      layer: self, x: p.inputs[0], y: p.output, mask: p.inputMasks.first ?? nil,
      scratch: p.scratch[...],
      batch: p.batch, training: p.training)
    runForward(run, randomness: p.randomness)
  }

  public override func backward(_ p: BackwardPass) {
    let run = RecurrentRun(
      layer: self, x: p.inputs[0], y: UnsafeMutablePointer(mutating: p.output),
      mask: p.inputMasks.first ?? nil,
      scratch: p.scratch[...], batch: p.batch, training: true)
    runBackward(
      run, outputGrad: p.outputGrad, inputGrad: p.inputGrads[0], weightGrads: p.computeWeightGrads,
      accumulate: p.accumulateWeightGrads)
  }

  /// Zero initial states in the first step's slots (Keras's get_initial_state).
  func resetStates(_ r: RecurrentRun) {
    for b in 0..<r.batch { r.at(r.hPrev, b, r.position(0)).update(repeating: 0, count: units) }
  }

  /// Step `s` of the cell for batch rows `rows`: the state product, the gates, the new state,
  /// the output (`RecurrentLayer+Pass` has the shared pieces).
  func stepForward(_ r: RecurrentRun, rows: Range<Int>, step s: Int) {}

  /// Step `s` backwards: from carryH (+ the output gradient) and carryC, the gates'
  /// pre-activation gradients (over z) and the carries for step s - 1.
  func stepBackward(
    _ r: RecurrentRun, rows: Range<Int>, step s: Int, outputGrad dy: UnsafePointer<Float>
  ) {}

  /// The weight gradients from the gates' gradients (z) once every step is done.
  func weightGradients(_ r: RecurrentRun, accumulate: Bool) {
    let gu = r.gateWidth
    inputKernelGradient(r, accumulate: accumulate)
    stateKernelGradient(
      r, columns: 0..<gu, states: r.hPrev, grads: r.z, ldGrads: gu, accumulate: accumulate)
    if settings.useBias {
      Elementwise.columnSums(
        r.z, rows: r.batch * r.steps, width: gu, into: weightGrad(2), accumulate: accumulate)
    }
  }

  // MARK: config

  /// Keras's RNN and cell keys; subclasses add theirs.
  func recurrentConfig() -> [String: JSONValue] {
    let s = settings
    return [
      "return_sequences": .bool(s.returnSequences), "return_state": .bool(s.returnState),
      "go_backwards": .bool(s.goBackwards), "stateful": false, "unroll": .bool(s.unroll),
      "zero_output_for_mask": .bool(s.zeroOutputForMask),
      "units": JSONValue(units), "activation": JSONValue(s.activation.rawValue),
      "use_bias": .bool(s.useBias),
      "kernel_initializer": KerasObjects.initializer(s.kernelInitializer),
      "recurrent_initializer": KerasObjects.initializer(s.recurrentInitializer),
      "bias_initializer": KerasObjects.initializer(s.biasInitializer),
      "kernel_regularizer": KerasObjects.regularizer(s.kernelRegularizer),
      "recurrent_regularizer": KerasObjects.regularizer(s.recurrentRegularizer),
      "bias_regularizer": KerasObjects.regularizer(s.biasRegularizer),
      "activity_regularizer": nil, "kernel_constraint": nil, "recurrent_constraint": nil,
      "bias_constraint": nil,
      "dropout": JSONValue(s.dropout), "recurrent_dropout": JSONValue(s.recurrentDropout),
      "seed": s.seed.map { JSONValue($0) } ?? .null,
    ]
  }
}

extension LayerConfig {
  /// The keys every Keras recurrent layer shares; refuses what DLP does not implement.
  func recurrentSettings() throws -> RecurrentSettings {
    try refuseUnsupported([
      "activity_regularizer", "kernel_constraint", "recurrent_constraint", "bias_constraint",
    ])
    if try bool("stateful", default: false) {
      throw DLPError.config(
        "\(context): stateful recurrent layers are not supported (key 'stateful' must be false)")
    }
    var s = RecurrentSettings()
    s.activation = try activation("activation", default: .tanh)
    s.recurrentActivation = try activation("recurrent_activation", default: .sigmoid)
    s.useBias = try bool("use_bias", default: true)
    s.kernelInitializer = try initializer("kernel_initializer", default: .glorotUniform)
    s.recurrentInitializer = try initializer("recurrent_initializer", default: .orthogonal(gain: 1))
    s.biasInitializer = try initializer("bias_initializer", default: .zeros)
    s.kernelRegularizer = try regularizer("kernel_regularizer")
    s.recurrentRegularizer = try regularizer("recurrent_regularizer")
    s.biasRegularizer = try regularizer("bias_regularizer")
    // Keras clips the rates into [0, 1].
    s.dropout = Float(Swift.min(1, Swift.max(0, json["dropout"]?.double ?? 0)))
    s.recurrentDropout = Float(Swift.min(1, Swift.max(0, json["recurrent_dropout"]?.double ?? 0)))
    s.seed = optionalInt("seed")
    s.returnSequences = try bool("return_sequences", default: false)
    s.returnState = try bool("return_state", default: false)
    s.goBackwards = try bool("go_backwards", default: false)
    s.zeroOutputForMask = try bool("zero_output_for_mask", default: false)
    s.unroll = try bool("unroll", default: false)
    return s
  }

  /// An activation with a default for an absent key (Keras's `None` means linear).
  func activation(_ key: String, default d: Activation) throws -> Activation {
    guard let v = json[key] else { return d }
    return try activation(key)
  }
}
