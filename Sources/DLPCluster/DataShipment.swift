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

  /// An array being received, filled chunk by chunk in its own element type (one of the
  /// three buffers, the others empty).
  struct Incoming {
    let shape: [Int]
    let dtype: SampleArray.DType
    let divisor: Float
    var bytes: [UInt8] = []
    var ints: [Int32] = []
    var floats: [Float] = []

    init(shape: [Int], dtype: SampleArray.DType, divisor: Float, count: Int) {
      self.shape = shape
      self.dtype = dtype
      self.divisor = divisor
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

  /// Receives the arrays; every chunk is checked against its declared shape, type and offset.
  /// `next` gives the next message from the coordinator.
  static func receive(name: String, hash: UInt64, next: () throws -> Envelope) throws -> PreparedData {
    var arrays: [String: SampleArray] = [:]
    var current: (name: String, array: Incoming)?
    while true {
      let env = try next()
      guard case .dataShipment(let m) = env.message else {
        if case .shutdown = env.message { throw WorkerExit.rejected("coordinator shut down during data shipment") }
        continue
      }
      guard DataShipment.arrayNames.contains(m.arrayName) else {
        throw DLPError.data("shipment of unknown array '\(m.arrayName)'")
      }
      guard let dtype = m.dtype.isEmpty ? .float32 : SampleArray.DType(rawValue: m.dtype) else {
        throw DLPError.data("shipment '\(m.arrayName)': unknown element type '\(m.dtype)'")
      }
      guard dtype != .uint8 || (m.divisor.isFinite && m.divisor != 0) else {
        throw DLPError.data("shipment '\(m.arrayName)': divisor \(m.divisor) is not a finite non-zero number")
      }
      let shape = m.shape.map { Int(clamping: $0) }
      let total = Int(clamping: m.totalElements)
      let elements = shape.reduce(into: Optional(1)) { p, e in
        p = p.flatMap { e < 0 ? nil : $0.multipliedReportingOverflow(by: e).overflow ? nil : $0 * e }
      }
      guard !shape.isEmpty, elements == total, total <= 1 << 31 else {
        throw DLPError.data("shipment '\(m.arrayName)': shape \(shape) does not hold \(total) elements")
      }
      if current?.name != m.arrayName {
        if let done = current { arrays[done.name] = try done.array.samples() }
        guard arrays[m.arrayName] == nil else { throw DLPError.data("shipment '\(m.arrayName)' arrived twice") }
        current = (m.arrayName, Incoming(shape: shape, dtype: dtype, divisor: m.divisor, count: total))
      }
      guard current!.array.shape == shape, current!.array.dtype == dtype else {
        throw DLPError.data("shipment '\(m.arrayName)' changed shape or element type")
      }
      let offset = Int(clamping: m.chunkOffset)
      let payloadBytes = (env.payload?.count ?? 0) * 4
      guard offset <= total else { throw DLPError.data("shipment '\(m.arrayName)': chunk past the end") }
      let n = Swift.min(payloadBytes / dtype.size, total - offset)
      guard (n * dtype.size + 3) / 4 * 4 == payloadBytes else {
        throw DLPError.data(
          "shipment '\(m.arrayName)': a chunk of \(payloadBytes) bytes at element \(offset) of \(total)")
      }
      if let p = env.payload, n > 0 {
        p.withUnsafeBytes { src in
          current!.array.write(UnsafeRawBufferPointer(rebasing: src[0..<(n * dtype.size)]), at: offset)
        }
      }
      if m.last { break }
    }
    if let done = current { arrays[done.name] = try done.array.samples() }
    guard let tx = arrays["train_x"], let ty = arrays["train_y"] else {
      throw DLPError.data("shipment without training arrays")
    }
    var test: ArrayData?
    if let x = arrays["test_x"], let y = arrays["test_y"] { test = try ArrayData(x: x, y: y) }
    return PreparedData(train: try ArrayData(x: tx, y: ty), test: test, datasetName: name, contentHash: hash)
  }
}

/// The local address a host uses to reach another (a connected UDP socket sends nothing but
/// tells which interface the route goes through): what a worker advertises to its ring peers.
enum LocalAddress {
  static func toward(_ endpoint: String) -> String? {
    guard let host = Endpoint.host(of: endpoint) else { return nil }
    if host == "127.0.0.1" || host == "localhost" { return "127.0.0.1" }
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = in_port_t(9).bigEndian
    guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else { return nil }
    let ok = withUnsafePointer(to: &addr) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard ok == 0 else { return nil }
    var local = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    guard
      withUnsafeMutablePointer(
        to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0
    else { return nil }
    var buf = [CChar](repeating: 0, count: 64)
    guard inet_ntop(AF_INET, &local.sin_addr, &buf, 64) != nil else { return nil }
    return String(cString: buf)
  }
}
