import DLPTensor

/// A minimal, safe pickle virtual machine: exactly the opcodes numpy emits when it pickles an
/// array (protocols 2 to 5, as written by Python 2 or 3), and nothing that can run code.
///
/// Safety: globals are checked against `PickleGlobal` when they are named, so nothing outside the
/// allow-list is ever looked up; the machine never recurses; every length is checked against the
/// bytes that are left; and every value it creates costs at least one input byte, so memory stays
/// proportional to the input.
struct PickleMachine {
  var reader: ByteReader
  var stack: [PickleValue] = []
  var marks: [Int] = []
  var memo: [Int: PickleValue] = [:]
  var tuples: [[PickleValue]] = []
  var lists: [[PickleValue]] = []
  var arrays: [PickledArray] = []
  var dtypes: [PickledDType] = []
  var strings: [String] = []
  var blobs: [ArraySlice<UInt8>] = []

  init(bytes: [UInt8], offset: Int, source: String) {
    reader = ByteReader(bytes, source: source, offset: offset)
  }

  func failure(_ message: String) -> DLPError { reader.failure("pickle: \(message)") }

  mutating func push(_ value: PickleValue) { stack.append(value) }

  mutating func pop() throws -> PickleValue {
    guard stack.count > (marks.last ?? 0) else { throw failure("stack underflow") }
    return stack.removeLast()
  }

  /// Removes and returns everything above the topmost MARK.
  mutating func popMark() throws -> [PickleValue] {
    guard let mark = marks.popLast() else { throw failure("no MARK on the stack") }
    defer { stack.removeSubrange(mark...) }
    return Array(stack[mark...])
  }

  mutating func top() throws -> PickleValue {
    guard let value = stack.last, stack.count > (marks.last ?? 0) else {
      throw failure("stack underflow")
    }
    return value
  }

  mutating func tuple(_ items: [PickleValue]) -> PickleValue {
    tuples.append(items)
    return .tuple(tuples.count - 1)
  }

  mutating func pushString(_ length: Int) throws {
    strings.append(String(decoding: try reader.take(length, "str"), as: UTF8.self))
    push(.string(strings.count - 1))
  }

  mutating func pushBytes(_ length: Int) throws {
    blobs.append(try reader.take(length, "bytes"))
    push(.bytes(blobs.count - 1))
  }

  /// Text from a Python 3 str, or from a Python 2 str (bytes), as numpy's dtype codes may be.
  func text(of value: PickleValue) -> String? {
    switch value {
    case .string(let s): return strings[s]
    case .bytes(let b): return String(decoding: blobs[b], as: UTF8.self)
    default: return nil
    }
  }

  mutating func length(_ width: Int, _ what: String) throws -> Int {
    let n = try reader.littleEndian(width, "length of \(what)")
    guard n <= UInt64(reader.remaining) else { throw failure("\(what) longer than the file") }
    return Int(n)
  }

  mutating func global(module: String, name: String) throws -> PickleValue {
    guard let global = PickleGlobal(module: module, name: name) else {
      throw failure(
        "refusing to load '\(module).\(name)': only numpy array reconstruction is allowed "
          + "(the file may be corrupt or malicious)")
    }
    return .global(global)
  }

  mutating func memoize(_ index: Int) throws { memo[index] = try top() }

  mutating func fetch(_ index: Int) throws {
    guard let value = memo[index] else { throw failure("memo entry \(index) is not defined") }
    push(value)
  }

  /// Runs to STOP and returns the pickled object.
  mutating func run() throws -> PickleValue {
    while true {
      let opcode = try reader.u8("pickle opcode (missing STOP?)")
      switch opcode {
      case 0x80:  // PROTO
        let version = try reader.u8("protocol version")
        guard version >= 2, version <= 5 else {
          throw failure("pickle protocol \(version) is not supported (2 to 5 are)")
        }
      case 0x95: _ = try reader.littleEndian(8, "frame length")  // FRAME: a read-ahead hint
      case 0x2E: return try pop()  // STOP
      case 0x28: marks.append(stack.count)  // MARK
      case 0x30: _ = try pop()  // POP
      case 0x31: _ = try popMark()  // POP_MARK
      case 0x32: push(try top())  // DUP
      case 0x4E: push(.none)  // NONE
      case 0x88: push(.bool(true))  // NEWTRUE
      case 0x89: push(.bool(false))  // NEWFALSE
      case 0x4B: push(.int(Int(try reader.u8("BININT1"))))
      case 0x4D: push(.int(Int(try reader.littleEndian(2, "BININT2"))))
      case 0x4A:  // BININT: signed 32-bit
        push(.int(Int(Int32(truncatingIfNeeded: try reader.littleEndian(4, "BININT")))))
      case 0x8A, 0x8B:  // LONG1, LONG4: little-endian two's complement of n bytes
        let n = try length(opcode == 0x8A ? 1 : 4, "LONG")
        guard n <= 8 else { throw failure("integer of \(n) bytes is too large") }
        var value = n == 0 ? 0 : try reader.littleEndian(n, "LONG")
        if n > 0, n < 8, value >> (8 * n - 1) & 1 == 1 { value |= ~0 << (8 * n) }
        push(.int(Int(bitPattern: UInt(value))))
      case 0x47:  // BINFLOAT: big-endian float64
        push(.float(Double(bitPattern: try reader.bigEndian(8, "BINFLOAT"))))
      case 0x55, 0x43: try pushBytes(try length(1, "string"))  // SHORT_BINSTRING, SHORT_BINBYTES
      case 0x54, 0x42: try pushBytes(try length(4, "string"))  // BINSTRING (Python 2), BINBYTES
      case 0x8E: try pushBytes(try length(8, "bytes"))  // BINBYTES8
      case 0x8C: try pushString(try length(1, "str"))  // SHORT_BINUNICODE
      case 0x58: try pushString(try length(4, "str"))  // BINUNICODE
      case 0x8D: try pushString(try length(8, "str"))  // BINUNICODE8
      case 0x63:  // GLOBAL: "module\nname\n"
        push(try global(module: try line(), name: try line()))
      case 0x93:  // STACK_GLOBAL
        let name = try pop()
        let module = try pop()
        guard case .string(let n) = name, case .string(let m) = module else {
          throw failure("STACK_GLOBAL needs two strings")
        }
        push(try global(module: strings[m], name: strings[n]))
      case 0x71: try memoize(Int(try reader.u8("BINPUT")))
      case 0x72: try memoize(Int(try reader.littleEndian(4, "LONG_BINPUT")))
      case 0x94: try memoize(memo.count)  // MEMOIZE
      case 0x68: try fetch(Int(try reader.u8("BINGET")))
      case 0x6A: try fetch(Int(try reader.littleEndian(4, "LONG_BINGET")))
      case 0x29: push(tuple([]))  // EMPTY_TUPLE
      case 0x85: push(tuple([try pop()]))  // TUPLE1
      case 0x86:  // TUPLE2
        let b = try pop()
        push(tuple([try pop(), b]))
      case 0x87:  // TUPLE3
        let c = try pop()
        let b = try pop()
        push(tuple([try pop(), b, c]))
      case 0x74: push(tuple(try popMark()))  // TUPLE
      case 0x5D:  // EMPTY_LIST
        lists.append([])
        push(.list(lists.count - 1))
      case 0x6C:  // LIST
        lists.append(try popMark())
        push(.list(lists.count - 1))
      case 0x61:  // APPEND
        let item = try pop()
        guard case .list(let l) = try top() else { throw failure("APPEND to a non-list") }
        lists[l].append(item)
      case 0x65:  // APPENDS: moves the items above the mark straight into the list
        guard let mark = marks.popLast() else { throw failure("no MARK on the stack") }
        guard mark > (marks.last ?? 0), case .list(let l) = stack[mark - 1] else {
          throw failure("APPENDS to a non-list")
        }
        lists[l].append(contentsOf: stack[mark...])
        stack.removeSubrange(mark...)
      case 0x52:  // REDUCE
        let args = try pop()
        push(try call(try pop(), args))
      case 0x81:  // NEWOBJ: cls.__new__(cls, *args); only numpy.dtype is accepted
        let args = try pop()
        let cls = try pop()
        guard case .global(.dtype) = cls else { throw failure("NEWOBJ of \(cls.kind)") }
        push(try call(cls, args))
      case 0x62:  // BUILD
        let state = try pop()
        try build(try top(), state)
      default:
        throw failure(
          "unsupported opcode 0x\(String(opcode, radix: 16)) ('\(Character(Unicode.Scalar(opcode)))'):"
            + " only the opcodes numpy uses to store arrays are accepted")
      }
    }
  }

  /// A newline-terminated ASCII line (the GLOBAL opcode's arguments).
  mutating func line() throws -> String {
    var chars: [UInt8] = []
    while true {
      let c = try reader.u8("GLOBAL name")
      if c == 0x0A { break }
      guard chars.count < 256 else { throw failure("GLOBAL name too long") }
      chars.append(c)
    }
    return String(decoding: chars, as: UTF8.self)
  }
}
