import DLP
import DLPTransport
import Foundation

/// `--ship-data`: the coordinator sends its prepared arrays to workers that have no copy of the
/// dataset, in chunks of at most a few MB, each a DataShipment message with a float payload.
enum DataShipment {
  static let arrayNames = ["train_x", "train_y", "test_x", "test_y"]

  static func arrays(of data: PreparedData) -> [(String, Tensor)] {
    var out: [(String, Tensor)] = [("train_x", data.train.inputs[0]), ("train_y", data.train.targets[0])]
    if let t = data.test { out += [("test_x", t.inputs[0]), ("test_y", t.targets[0])] }
    return out
  }

  static func send(_ data: PreparedData, codec: MessageCodec, socket: ZMQSocket, to routingID: [UInt8]) throws {
    let arrays = arrays(of: data)
    let chunk = ClusterDefaults.shipmentChunkBytes / 4
    for (k, (name, t)) in arrays.enumerated() {
      var offset = 0
      repeat {
        let n = Swift.min(chunk, t.count - offset)
        let last = k == arrays.count - 1 && offset + n == t.count
        try t.scalars.withUnsafeBufferPointer { b in
          try codec.send(
            DataShipmentMessage(
              arrayName: name, shape: t.shape.map(UInt64.init), chunkOffset: UInt64(offset), totalElements: UInt64(t.count), last: last),
            on: socket, payload: UnsafeBufferPointer(rebasing: b[offset..<(offset + n)]), routingID: routingID)
        }
        offset += n
      } while offset < t.count
    }
  }

  /// Receives the arrays; every chunk is checked against its declared shape and offset
  /// (`ShipmentAssembler`) before anything is allocated or copied.
  static func receive(codec: MessageCodec, socket: ZMQSocket, name: String, hash: UInt64) throws -> PreparedData {
    var assembler = ShipmentAssembler()
    while true {
      let env = try codec.receive(from: socket, timeout: 600)
      guard case .dataShipment(let m) = env.message else {
        if case .shutdown = env.message { throw WorkerExit.rejected("coordinator shut down during data shipment") }
        continue
      }
      if try assembler.add(m, payload: env.payload) { break }
    }
    return try assembler.finish(name: name, hash: hash)
  }
}

/// Puts shipped chunks back together, trusting nothing in them: array names, shapes (whose
/// element product must not overflow and must equal the declared total), sizes against this
/// host's memory, and offsets (each chunk must start where the previous one ended, so a
/// hostile sender can neither write outside an array nor leave holes in it).
struct ShipmentAssembler {
  /// The most memory one shipment may take: half of this host's.
  var maxTotalBytes = Int(clamping: ProcessInfo.processInfo.physicalMemory / 2)
  private(set) var buffers: [String: (shape: [Int], values: [Float], filled: Int)] = [:]
  private var totalBytes = 0

  /// Adds one chunk; returns true when the sender marked it the last one.
  mutating func add(_ m: DataShipmentMessage, payload: Payload?) throws -> Bool {
    let label = "shipment '\(m.arrayName.prefix(64))'"
    guard DataShipment.arrayNames.contains(m.arrayName) else {
      throw DLPError.data("shipment of unknown array '\(m.arrayName.prefix(64))' (expected one of \(DataShipment.arrayNames.joined(separator: ", ")))")
    }
    guard m.shape.count <= 8, let shape = Self.checkedShape(m.shape), let product = Self.checkedProduct(shape) else {
      throw DLPError.data("\(label): shape \(m.shape.prefix(9)) is too large (its element count overflows or it has more than 8 axes)")
    }
    guard m.totalElements == UInt64(product) else {
      throw DLPError.data("\(label): shape \(shape) does not hold \(m.totalElements) elements")
    }
    let total = product
    // Taken out of the dictionary while it is filled: a copy left there would make every chunk
    // copy the whole array (copy on write).
    var entry: (shape: [Int], values: [Float], filled: Int)
    if let existing = buffers[m.arrayName] {
      guard existing.shape == shape else { throw DLPError.data("\(label) changed shape from \(existing.shape) to \(shape)") }
      entry = buffers.removeValue(forKey: m.arrayName)!
    } else {
      let (bytes, overflow) = total.multipliedReportingOverflow(by: 4)
      guard !overflow, bytes <= maxTotalBytes - totalBytes else {
        throw DLPError.data(
          "\(label): \(total) float32 values would take more than this host allows for shipped data (\(maxTotalBytes >> 20) MiB, half its memory)")
      }
      totalBytes += bytes
      entry = (shape, [Float](repeating: 0, count: total), 0)
    }
    // A refused chunk leaves the array as it was.
    defer { buffers[m.arrayName] = entry }
    let n = payload?.count ?? 0
    guard m.chunkOffset == UInt64(entry.filled) else {
      throw DLPError.data("\(label): chunk at element \(m.chunkOffset), expected the next one at \(entry.filled)")
    }
    let offset = entry.filled
    guard n <= total - offset else {
      throw DLPError.data("\(label): a chunk of \(n) elements at \(offset) runs past the end (\(total) elements)")
    }
    if let p = payload, n > 0 {
      try entry.values.withUnsafeMutableBufferPointer { dst in
        try p.copy(into: UnsafeMutableBufferPointer(rebasing: dst[offset..<(offset + n)]))
      }
    }
    entry.filled += n
    return m.last
  }

  /// The prepared data, once every array arrived whole.
  func finish(name: String, hash: UInt64) throws -> PreparedData {
    for (k, b) in buffers where b.filled != b.values.count {
      throw DLPError.data("shipment '\(k)' ended after \(b.filled) of its \(b.values.count) elements")
    }
    func tensor(_ k: String) throws -> Tensor? {
      guard let b = buffers[k] else { return nil }
      return try Tensor(shape: b.shape, scalars: b.values)
    }
    guard let tx = try tensor("train_x"), let ty = try tensor("train_y") else { throw DLPError.data("shipment without training arrays") }
    var test: ArrayData?
    if let x = try tensor("test_x"), let y = try tensor("test_y") { test = try ArrayData(x: x, y: y) }
    return PreparedData(train: try ArrayData(x: tx, y: ty), test: test, datasetName: name, contentHash: hash)
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
