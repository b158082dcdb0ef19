/// The values the restricted unpickler can build.
///
/// Containers and numpy objects live in arenas owned by the machine and are referred to by index.
/// That keeps every value flat: a hostile pickle can nest or alias containers as it likes (even
/// make a list contain itself) without deep recursive deallocation or reference cycles, and
/// nothing is ever copied when a memoised value is fetched again. Strings and bytes live in arenas
/// too, so that the enum is plain data: the millions of integers of an imdb.npz then move through
/// the stack and into lists as bare memory copies, without reference counting.
enum PickleValue {
  case none
  case bool(Bool)
  case int(Int)
  case float(Double)
  /// A Python 3 `str` (index into the machine's `strings`).
  case string(Int)
  /// Python 3 `bytes`, or a Python 2 `str` (which numpy pickles under Python 2 are full of);
  /// index into the machine's `blobs`.
  case bytes(Int)
  case tuple(Int)
  case list(Int)
  case global(PickleGlobal)
  /// A numpy array under construction: `_reconstruct` made it, `BUILD` fills it in.
  case array(Int)
  case dtype(Int)

  /// A short name for error messages.
  var kind: String {
    switch self {
    case .none: return "None"
    case .bool: return "bool"
    case .int: return "int"
    case .float: return "float"
    case .string: return "str"
    case .bytes: return "bytes"
    case .tuple: return "tuple"
    case .list: return "list"
    case .global(let g): return "global \(g.rawValue)"
    case .array: return "numpy.ndarray"
    case .dtype: return "numpy.dtype"
    }
  }
}

/// The only callables a numpy array pickle needs; any other global is refused. This is the same
/// allow-list Keras uses for these files, plus `_codecs.encode`, which Python 3 emits to rebuild
/// `bytes` at pickle protocol 2.
enum PickleGlobal: String {
  case reconstruct = "numpy.core.multiarray._reconstruct"
  case ndarray = "numpy.ndarray"
  case dtype = "numpy.dtype"
  case codecsEncode = "_codecs.encode"

  init?(module: String, name: String) {
    switch (module, name) {
    case ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"):
      self = .reconstruct
    case ("numpy", "ndarray"): self = .ndarray
    case ("numpy", "dtype"): self = .dtype
    case ("_codecs", "encode"): self = .codecsEncode
    default: return nil
    }
  }
}

/// A numpy dtype as its pickle describes it: `dtype('i8', False, True)` then a `BUILD` whose state
/// tuple's second item is the byte order.
struct PickledDType {
  var code: String
  var byteOrder: String = "|"
}

/// A numpy array as its pickle describes it: `_reconstruct(ndarray, (0,), b'b')` then a `BUILD`
/// with `(version, shape, dtype, is_fortran, data)`; `data` is a list of the elements for object
/// arrays and the raw element bytes otherwise.
struct PickledArray {
  var shape: [Int] = [0]
  var dtype: Int?
  var fortran = false
  var payload: PickleValue = .none
  var built = false
}
