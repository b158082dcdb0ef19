import DLP
import DLPTransport
import Foundation

/// `--ship-data`: the coordinator sends its prepared arrays to workers that have no copy of the
/// dataset, in chunks of at most a few MB, each a DataShipment message whose payload is the
/// chunk's elements in the array's own element type (image bytes travel, and are kept, as
/// bytes): neither side ever holds a second, Float32 copy.
enum DataShipment {
  static let arrayNames = ["train_x", "train_y", "test_x", "test_y"]

  static func arrays(of data: PreparedData) -> [(String, SampleArray)] {
    var out: [(String, SampleArray)] = [("train_x", data.train.inputs[0]), ("train_y", data.train.targets[0])]
    if let t = data.test { out += [("test_x", t.inputs[0]), ("test_y", t.targets[0])] }
    return out
  }

  static func send(_ data: PreparedData, codec: MessageCodec, socket: ZMQSocket, to routingID: [UInt8]) throws {
    let arrays = arrays(of: data)
    // Chunks hold a multiple of 4 elements, so only an array's last chunk needs padding.
    var words = [Float](repeating: 0, count: ClusterDefaults.shipmentChunkBytes / 4)
    for (k, (name, t)) in arrays.enumerated() {
      let size = t.dtype.size
      let chunk = ClusterDefaults.shipmentChunkBytes / size / 4 * 4
      var divisor: Float = 1
      if case .uint8(_, let d) = t.storage { divisor = d }
      var offset = 0
      repeat {
        let n = Swift.min(chunk, t.elementCount - offset)
        let last = k == arrays.count - 1 && offset + n == t.elementCount
        let wordCount = (n * size + 3) / 4
        try t.withUnsafeBytes { src in
          words.withUnsafeMutableBytes { dst in
            dst.copyMemory(from: UnsafeRawBufferPointer(rebasing: src[(offset * size)..<((offset + n) * size)]))
            for pad in (n * size)..<(wordCount * 4) { dst[pad] = 0 }
          }
          try words.withUnsafeBufferPointer { w in
            try codec.send(
              DataShipmentMessage(
                arrayName: name, shape: t.shape.map(UInt64.init), chunkOffset: UInt64(offset),
                totalElements: UInt64(t.elementCount), last: last, dtype: t.dtype.rawValue, divisor: divisor),
              on: socket, payload: UnsafeBufferPointer(rebasing: w[0..<wordCount]), routingID: routingID)
          }
        }
        offset += n
      } while offset < t.elementCount
    }
  }

  /// Receives the arrays; every chunk is checked (`ShipmentAssembler`) before anything is
  /// allocated or copied. `next` gives the next message from the coordinator.
  static func receive(name: String, hash: UInt64, next: () throws -> Envelope) throws -> PreparedData {
    var assembler = ShipmentAssembler()
    while true {
      let env = try next()
      guard case .dataShipment(let m) = env.message else {
        if case .shutdown = env.message { throw WorkerExit.rejected("coordinator shut down during data shipment") }
        continue
      }
      if try assembler.add(m, payload: env.payload) { break }
    }
    return try assembler.finish(name: name, hash: hash)
  }
}

/// Puts shipped chunks back together in each array's own element type, trusting nothing in
/// them: array names, element types, shapes (whose element product must not overflow and must
/// equal the declared total), sizes against this host's memory, and offsets (each chunk must
/// start where the previous one ended, so a hostile sender can neither write outside an array
/// nor leave holes in it).
struct ShipmentAssembler {
  /// The most memory one shipment may take: half of this host's.
  var maxTotalBytes = Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)
  private(set) var arrays: [String: Incoming] = [:]
  private var totalBytes = 0

  /// An array being received: one of the three buffers, by its element type.
  struct Incoming {
    let shape: [Int]
    let dtype: SampleArray.DType
    let divisor: Float
    let count: Int
    var filled = 0
    var bytes: [UInt8] = []
    var ints: [Int32] = []
    var floats: [Float] = []

    init(shape: [Int], dtype: SampleArray.DType, divisor: Float, count: Int) {
      self.shape = shape
      self.dtype = dtype
      self.divisor = divisor
      self.count = count
      switch dtype {
      case .uint8: bytes = [UInt8](repeating: 0, count: count)
      case .int32: ints = [Int32](repeating: 0, count: count)
      case .float32: floats = [Float](repeating: 0, count: count)
      }
    }

    /// Copies `src` (whole elements) to element `offset` on.
    mutating func write(_ src: UnsafeRawBufferPointer, at offset: Int) {
      func copy(_ dst: UnsafeMutableRawBufferPointer) {
        UnsafeMutableRawBufferPointer(rebasing: dst[(offset * dtype.size)...]).copyMemory(from: src)
      }
      switch dtype {
      case .uint8: bytes.withUnsafeMutableBytes(copy)
      case .int32: ints.withUnsafeMutableBytes(copy)
      case .float32: floats.withUnsafeMutableBytes(copy)
      }
    }

    func samples() throws -> SampleArray {
      switch dtype {
      case .uint8: return try SampleArray(shape: shape, uint8: bytes, divisor: divisor)
      case .int32: return try SampleArray(shape: shape, int32: ints)
      case .float32: return try SampleArray(shape: shape, float32: floats)
      }
    }
  }

  /// Adds one chunk; returns true when the sender marked it the last one.
  mutating func add(_ m: DataShipmentMessage, payload: Payload?) throws -> Bool {
    let label = "shipment '\(m.arrayName.prefix(64))'"
    guard DataShipment.arrayNames.contains(m.arrayName) else {
      throw DLPError.data(
        "shipment of unknown array '\(m.arrayName.prefix(64))' (expected one of \(DataShipment.arrayNames.joined(separator: ", ")))")
    }
    guard let dtype = m.dtype.isEmpty ? .float32 : SampleArray.DType(rawValue: m.dtype) else {
      throw DLPError.data("\(label): unknown element type '\(m.dtype.prefix(32))'")
    }
    guard dtype != .uint8 || (m.divisor.isFinite && m.divisor != 0) else {
      throw DLPError.data("\(label): divisor \(m.divisor) is not a finite non-zero number")
    }
    guard !m.shape.isEmpty, m.shape.count <= 8, let shape = Self.checkedShape(m.shape),
      let total = Self.checkedProduct(shape)
    else {
      throw DLPError.data(
        "\(label): shape \(m.shape.prefix(9)) is too large (its element count overflows or it has more than 8 axes)")
    }
    guard m.totalElements == UInt64(total) else {
      throw DLPError.data("\(label): shape \(shape) does not hold \(m.totalElements) elements")
    }
    // Taken out of the dictionary while it is filled: a copy left there would make every chunk
    // copy the whole array (copy on write).
    var entry: Incoming
    if let existing = arrays.removeValue(forKey: m.arrayName) {
      guard existing.shape == shape, existing.dtype == dtype else {
        arrays[m.arrayName] = existing
        throw DLPError.data("\(label) changed shape or element type (from \(existing.shape) \(existing.dtype.rawValue))")
      }
      entry = existing
    } else {
      let (bytes, overflow) = total.multipliedReportingOverflow(by: dtype.size)
      guard !overflow, bytes <= maxTotalBytes - totalBytes else {
        throw DLPError.data(
          "\(label): \(total) \(dtype.rawValue) values would take more than this host allows for shipped data (\(maxTotalBytes >> 20) MiB, half its memory)")
      }
      totalBytes += bytes
      entry = Incoming(shape: shape, dtype: dtype, divisor: m.divisor, count: total)
    }
    // A refused chunk leaves the array as it was.
    defer { arrays[m.arrayName] = entry }
    guard m.chunkOffset == UInt64(entry.filled) else {
      throw DLPError.data("\(label): chunk at element \(m.chunkOffset), expected the next one at \(entry.filled)")
    }
    let offset = entry.filled
    // The payload is whole 4-byte words: the chunk's elements, zero-padded to a word.
    let payloadBytes = (payload?.count ?? 0) * 4
    let n = Swift.min(payloadBytes / dtype.size, total - offset)
    guard (n * dtype.size + 3) / 4 * 4 == payloadBytes else {
      throw DLPError.data(
        "\(label): a chunk of \(payloadBytes) bytes at element \(offset) runs past the end (\(total) elements)")
    }
    if let p = payload, n > 0 {
      p.withUnsafeBytes { src in entry.write(UnsafeRawBufferPointer(rebasing: src[0..<(n * dtype.size)]), at: offset) }
    }
    entry.filled += n
    return m.last
  }

  /// The prepared data, once every array arrived whole.
  func finish(name: String, hash: UInt64) throws -> PreparedData {
    for (k, b) in arrays where b.filled != b.count {
      throw DLPError.data("shipment '\(k)' ended after \(b.filled) of its \(b.count) elements")
    }
    guard let tx = arrays["train_x"], let ty = arrays["train_y"] else {
      throw DLPError.data("shipment without training arrays")
    }
    var test: ArrayData?
    if let x = arrays["test_x"], let y = arrays["test_y"] { test = try ArrayData(x: x.samples(), y: y.samples()) }
    return PreparedData(
      train: try ArrayData(x: tx.samples(), y: ty.samples()), test: test, datasetName: name, contentHash: hash)
  }

  /// Dimensions as Ints; nil when one does not fit.
  static func checkedShape(_ dims: [UInt64]) -> [Int]? {
    var out: [Int] = []
    for d in dims {
      guard d <= UInt64(Int.max) else { return nil }
      out.append(Int(d))
    }
    return out
  }

  /// The element count of `shape`; nil when the product overflows.
  static func checkedProduct(_ shape: [Int]) -> Int? {
    var product = 1
    for d in shape {
      let (p, overflow) = product.multipliedReportingOverflow(by: d)
      if overflow { return nil }
      product = p
    }
    return product
  }
}
