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

  /// Receives the arrays; every chunk is checked against its declared shape and offset.
  /// `next` gives the next message from the coordinator.
  static func receive(name: String, hash: UInt64, next: () throws -> Envelope) throws -> PreparedData {
    var buffers: [String: (shape: [Int], values: [Float])] = [:]
    while true {
      let env = try next()
      guard case .dataShipment(let m) = env.message else {
        if case .shutdown = env.message { throw WorkerExit.rejected("coordinator shut down during data shipment") }
        continue
      }
      guard DataShipment.arrayNames.contains(m.arrayName) else { throw DLPError.data("shipment of unknown array '\(m.arrayName)'") }
      let shape = m.shape.map { Int(clamping: $0) }
      let total = Int(clamping: m.totalElements)
      guard shape.reduce(1, *) == total, total <= 1 << 31 else {
        throw DLPError.data("shipment '\(m.arrayName)': shape \(shape) does not hold \(total) elements")
      }
      // Taken out of the dictionary while it is filled: a copy left there would make every chunk
      // copy the whole array (copy on write).
      var entry = buffers.removeValue(forKey: m.arrayName) ?? (shape, [Float](repeating: 0, count: total))
      guard entry.shape == shape else { throw DLPError.data("shipment '\(m.arrayName)' changed shape") }
      let offset = Int(clamping: m.chunkOffset)
      let n = env.payload?.count ?? 0
      guard offset + n <= total else { throw DLPError.data("shipment '\(m.arrayName)': chunk past the end") }
      if let p = env.payload {
        try entry.values.withUnsafeMutableBufferPointer { dst in
          try p.copy(into: UnsafeMutableBufferPointer(rebasing: dst[offset..<(offset + n)]))
        }
      }
      buffers[m.arrayName] = entry
      if m.last { break }
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
    let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    guard ok == 0 else { return nil }
    var local = sockaddr_in()
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    guard withUnsafeMutablePointer(to: &local, { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }) == 0 else { return nil }
    var buf = [CChar](repeating: 0, count: 64)
    guard inet_ntop(AF_INET, &local.sin_addr, &buf, 64) != nil else { return nil }
    return String(cString: buf)
  }
}
