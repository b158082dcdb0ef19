import DLPTensor

/// Reads the pickle numpy writes for an object array (`np.save(..., allow_pickle=True)`) and
/// returns its elements as integer sequences: the layout of Keras's imdb.npz and reuters.npz.
enum PickleReader {
  /// Unpickles a numpy object array starting at `offset` in `bytes`; each element must be a list
  /// or tuple of integers, or a numpy integer array.
  static func readSequenceArray(_ bytes: [UInt8], offset: Int, source: String) throws
    -> (shape: [Int], sequences: [[Int]])
  {
    var machine = PickleMachine(bytes: bytes, offset: offset, source: source)
    let result = try machine.run()
    guard case .array(let a) = result, machine.arrays[a].built else {
      throw DLPError.data("\(source): the pickle holds a \(result.kind), not a numpy array")
    }
    let array = machine.arrays[a]
    let elements: [PickleValue]
    switch (array.dtype.map { machine.dtypes[$0].code }, array.payload) {
    case ("O8", .list(let l)), ("O4", .list(let l)), ("O", .list(let l)):
      elements = machine.lists[l]
    case (let code, _):
      throw DLPError.data(
        "\(source): expected an object array of sequences, found dtype \(code ?? "?")")
    }
    guard array.shape.checkedProduct == elements.count else {
      throw DLPError.data(
        "\(source): object array of shape \(array.shape) holds \(elements.count) elements")
    }
    // Shared references could make the output far larger than the file: a real pickle spends at
    // least two bytes per integer, so more integers than bytes means something is wrong.
    var budget = bytes.count - offset + 16
    var sequences: [[Int]] = []
    sequences.reserveCapacity(elements.count)
    for (i, element) in elements.enumerated() {
      let sequence = try machine.integerSequence(element, index: i)
      budget -= sequence.count
      guard budget >= 0 else {
        throw DLPError.data("\(source): pickle expands to more integers than it has bytes")
      }
      sequences.append(sequence)
    }
    return (array.shape, sequences)
  }
}

extension PickleMachine {
  /// REDUCE: calls one of the allowed globals.
  mutating func call(_ callable: PickleValue, _ argsValue: PickleValue) throws -> PickleValue {
    guard case .tuple(let t) = argsValue else { throw failure("call arguments are not a tuple") }
    let args = tuples[t]
    guard case .global(let global) = callable else {
      throw failure("cannot call a \(callable.kind)")
    }
    switch global {
    case .reconstruct:
      // _reconstruct(ndarray, (0,), b'b'): an empty array that BUILD fills in.
      guard args.count == 3, case .global(.ndarray) = args[0] else {
        throw failure("_reconstruct must be called with numpy.ndarray")
      }
      arrays.append(PickledArray())
      return .array(arrays.count - 1)
    case .dtype:
      guard let code = args.first.flatMap(text(of:)) else {
        throw failure("numpy.dtype needs a type code")
      }
      dtypes.append(PickledDType(code: code))
      return .dtype(dtypes.count - 1)
    case .codecsEncode:
      // Python 3 at protocol 2 pickles bytes as _codecs.encode(str, 'latin1').
      guard args.count == 2, case .string(let s) = args[0], text(of: args[1]) == "latin1" else {
        throw failure("_codecs.encode is only accepted with 'latin1'")
      }
      var out: [UInt8] = []
      for scalar in strings[s].unicodeScalars {
        guard scalar.value < 256 else { throw failure("non-latin1 character in bytes") }
        out.append(UInt8(scalar.value))
      }
      blobs.append(out[...])
      return .bytes(blobs.count - 1)
    case .ndarray:
      throw failure("numpy.ndarray may only be passed to _reconstruct")
    }
  }

  /// BUILD: sets the state of an array or dtype.
  mutating func build(_ object: PickleValue, _ stateValue: PickleValue) throws {
    guard case .tuple(let t) = stateValue else { throw failure("BUILD state is not a tuple") }
    let state = tuples[t]
    switch object {
    case .dtype(let d):
      // (version, byteorder, subarray, names, fields, elsize, alignment, flags[, metadata])
      guard state.count >= 2, let order = text(of: state[1]) else {
        throw failure("bad dtype state")
      }
      dtypes[d].byteOrder = order
    case .array(let a):
      // (version, shape, dtype, is_fortran, data); numpy before 1.0 omitted the version.
      let fields = state.count == 5 ? Array(state.dropFirst()) : state
      guard fields.count == 4, case .tuple(let s) = fields[0], case .dtype(let d) = fields[1]
      else { throw failure("bad ndarray state") }
      var shape: [Int] = []
      for extent in tuples[s] {
        guard case .int(let n) = extent, n >= 0 else { throw failure("bad ndarray shape") }
        shape.append(n)
      }
      switch fields[2] {
      case .bool(let f): arrays[a].fortran = f
      case .int(let f): arrays[a].fortran = f != 0
      default: throw failure("bad ndarray fortran flag")
      }
      arrays[a].shape = shape
      arrays[a].dtype = d
      arrays[a].payload = fields[3]
      arrays[a].built = true
    default:
      throw failure("BUILD on a \(object.kind) is not supported")
    }
  }

  /// One element of an object array as integers.
  func integerSequence(_ value: PickleValue, index: Int) throws -> [Int] {
    func notSupported(_ what: String) -> DLPError {
      .data(
        "\(reader.source): element \(index) of the object array is \(what); "
          + "only sequences of integers are supported")
    }
    switch value {
    case .list(let l): return try integers(lists[l], notSupported)
    case .tuple(let t): return try integers(tuples[t], notSupported)
    case .array(let a):
      let array = arrays[a]
      guard array.built, let d = array.dtype, case .bytes(let b) = array.payload,
        !array.fortran || array.shape.count <= 1
      else { throw notSupported("a numpy array that is not a plain numeric array") }
      let dtype = dtypes[d]
      let (type, bigEndian) = try NPYArray.DType.parse(
        dtype.byteOrder + dtype.code, source: reader.source)
      guard type.isInteger else { throw notSupported("a \(type.descr) array") }
      var data = Array(blobs[b])
      if bigEndian { NPYArray.swapBytes(&data, width: type.size) }
      return try NPYArray(
        shape: array.shape, dtype: type, littleEndianData: data, source: reader.source
      ).integers()
    default:
      throw notSupported("a \(value.kind)")
    }
  }

  private func integers(_ items: [PickleValue], _ notSupported: (String) -> DLPError) throws
    -> [Int]
  {
    var out = [Int](repeating: 0, count: items.count)
    for (i, item) in items.enumerated() {
      switch item {
      case .int(let v): out[i] = v
      case .bool(let b): out[i] = b ? 1 : 0
      default: throw notSupported("a sequence holding a \(item.kind)")
      }
    }
    return out
  }
}
