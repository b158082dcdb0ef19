/// The buffers of one pass of a recurrent layer over `batch` sequences, and where each step
/// finds its rows in them. Per-step buffers are indexed by the input position of the step
/// (`position(s)`: s, or steps - 1 - s going backwards), so the products over all steps pair
/// the right rows; the output sequence is in the order of processing, as Keras returns it.
///
/// Per sample: z (steps, gates * units): the input projections, then the activated gates, then
/// in backward their pre-activation gradients; hPrev (steps, units): the state each step
/// starts from; seqA, seqB (steps, units): what a cell keeps besides (LSTM: c_{t-1} and
/// tanh(c_t); GRU: the recurrent part of its candidate); finals (2 units): the last h, c;
/// rowTemp (`RecurrentRun.rowTempWidth` units): per-row carries and temporaries of the steps;
/// the dropout masks (groups, inDim) and (groups, units), and masked copies of the inputs and
/// states for the products.
struct RecurrentRun {
  let x: UnsafePointer<Float>
  let y: UnsafeMutablePointer<Float>
  let mask: UnsafePointer<Float>?
  let batch: Int
  let steps: Int
  let inDim: Int
  let units: Int
  let gates: Int
  let outputWidth: Int
  let returnSequences: Bool
  let goBackwards: Bool
  let zeroOutputForMask: Bool
  let z: UnsafeMutablePointer<Float>
  let hPrev: UnsafeMutablePointer<Float>
  let seqA: UnsafeMutablePointer<Float>
  let seqB: UnsafeMutablePointer<Float>
  let finals: UnsafeMutablePointer<Float>
  let rowTemp: UnsafeMutablePointer<Float>
  let inputMasks: UnsafeMutablePointer<Float>
  let stateMasks: UnsafeMutablePointer<Float>
  let maskedInput: UnsafeMutablePointer<Float>
  let maskedState: UnsafeMutablePointer<Float>
  /// Whether this pass drops inputs / states (training with a rate in (0, 1)).
  let dropInputs: Bool
  let dropState: Bool
  let inputMaskGroups: Int
  let stateMaskGroups: Int

  /// Per-row scratch of the steps, in units: carryH | carryC | temp (3) | temp2 | maskedH | spare.
  static let rowTempUnits = 8
  static let scratchCount = 10

  /// The scratch widths per sample, in the order `init` reads them.
  static func scratchWidths(
    steps: Int, inDim: Int, units: Int, gates: Int, sequenceBuffers: Int, dropInputs: Bool,
    dropState: Bool,
    inputMaskGroups: Int, stateMaskGroups: Int
  ) -> [Int] {
    let (t, u) = (steps, units)
    return [
      t * gates * u, t * u, sequenceBuffers >= 1 ? t * u : 0, sequenceBuffers >= 2 ? t * u : 0,
      2 * u,
      rowTempUnits * u, dropInputs ? inputMaskGroups * inDim : 0,
      dropState ? stateMaskGroups * u : 0,
      dropInputs ? t * inDim : 0, dropState ? t * u : 0,
    ]
  }

  init(
    layer l: RecurrentLayer, x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>,
    mask: UnsafePointer<Float>?,
    scratch: ArraySlice<UnsafeMutablePointer<Float>>, batch: Int, training: Bool
  ) {
    let s = scratch.startIndex
    (self.x, self.y, self.mask, self.batch) = (x, y, mask, batch)
    (steps, inDim, units, gates) = (l.steps, l.inDim, l.units, l.gates)
    outputWidth = l.outputWidth
    returnSequences = l.settings.returnSequences
    goBackwards = l.settings.goBackwards
    zeroOutputForMask = l.settings.zeroOutputForMask
    (z, hPrev, seqA, seqB, finals) = (
      scratch[s], scratch[s + 1], scratch[s + 2], scratch[s + 3], scratch[s + 4]
    )
    (rowTemp, inputMasks, stateMasks) = (scratch[s + 5], scratch[s + 6], scratch[s + 7])
    (maskedInput, maskedState) = (scratch[s + 8], scratch[s + 9])
    dropInputs = training && l.dropsInputs
    dropState = training && l.dropsState
    inputMaskGroups = l.inputMaskGroups
    stateMaskGroups = l.recurrentMaskGroups
  }

  var gateWidth: Int { gates * units }
  var rowTempWidth: Int { RecurrentRun.rowTempUnits * units }

  /// The input position step `s` reads.
  @inline(__always) func position(_ s: Int) -> Int { goBackwards ? steps - 1 - s : s }

  /// Row `b`'s gates at input position `t`.
  @inline(__always) func gatesAt(_ b: Int, _ t: Int) -> UnsafeMutablePointer<Float> {
    z + (b * steps + t) * gateWidth
  }
  /// A (steps, units) per-sample buffer's row `b` at input position `t`.
  @inline(__always) func at(_ buffer: UnsafeMutablePointer<Float>, _ b: Int, _ t: Int)
    -> UnsafeMutablePointer<Float>
  {
    buffer + (b * steps + t) * units
  }

  /// Whether row `b` takes step `s` (its mask at that position is not 0).
  @inline(__always) func keeps(_ b: Int, step s: Int) -> Bool {
    guard let m = mask else { return true }
    return m[b * steps + position(s)] != 0
  }

  /// Where step `s` leaves row `b`'s h: the next step's hPrev slot, or finals after the last.
  @inline(__always) func nextH(_ b: Int, step s: Int) -> UnsafeMutablePointer<Float> {
    s + 1 < steps ? at(hPrev, b, position(s + 1)) : finals + b * 2 * units
  }

  /// Row `b`'s output at step `s` (nil when the layer only returns the last one and this is not it).
  @inline(__always) func output(_ b: Int, step s: Int) -> UnsafeMutablePointer<Float>? {
    if returnSequences { return y + b * outputWidth + s * units }
    return s == steps - 1 ? y + b * outputWidth : nil
  }

  /// Row `b`'s output gradient at step `s`, from the layer's output gradient `dy`.
  @inline(__always) func outputGrad(_ dy: UnsafePointer<Float>, _ b: Int, step s: Int)
    -> UnsafePointer<Float>?
  {
    if returnSequences { return dy + b * outputWidth + s * units }
    return s == steps - 1 ? dy + b * outputWidth : nil
  }

  // Row temporaries.
  @inline(__always) func carryH(_ b: Int) -> UnsafeMutablePointer<Float> {
    rowTemp + b * rowTempWidth
  }
  @inline(__always) func carryC(_ b: Int) -> UnsafeMutablePointer<Float> {
    rowTemp + b * rowTempWidth + units
  }
  @inline(__always) func temp(_ b: Int) -> UnsafeMutablePointer<Float> {
    rowTemp + b * rowTempWidth + 2 * units
  }
  @inline(__always) func temp2(_ b: Int) -> UnsafeMutablePointer<Float> {
    rowTemp + b * rowTempWidth + 5 * units
  }
  @inline(__always) func maskedH(_ b: Int) -> UnsafeMutablePointer<Float> {
    rowTemp + b * rowTempWidth + 6 * units
  }

  /// Row `b`'s dropout mask of gate group `g` over the inputs / over the state.
  @inline(__always) func inputMask(_ b: Int, _ g: Int) -> UnsafeMutablePointer<Float> {
    inputMasks + (b * inputMaskGroups + g) * inDim
  }
  @inline(__always) func stateMask(_ b: Int, _ g: Int) -> UnsafeMutablePointer<Float> {
    stateMasks + (b * stateMaskGroups + g) * units
  }
  /// The state mask group gate `g` uses.
  @inline(__always) func stateGroup(_ g: Int) -> Int { stateMaskGroups == 1 ? 0 : g }
}
