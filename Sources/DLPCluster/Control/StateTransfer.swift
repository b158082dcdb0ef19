import DLP
import DLPTransport

/// Float arrays of any size between coordinator and workers (initial and restored weights,
/// optimizer slots, commits): `WeightChunkMessage`s of at most `chunkFloats` floats each, the
/// header naming the tensor and the element offset within it, sent and expected in order. No
/// frame comes near a socket's size limit, whatever the model's size.
enum StateTransfer {
  static let chunkFloats = 4 << 20

  /// Sends `values`, elements `offset ..< offset + values.count` of tensor `tensor`.
  static func send(
    _ values: UnsafeBufferPointer<Float>, at offset: Int, tensor: UInt32, step: UInt64,
    codec: MessageCodec, socket: ZMQSocket, routingID: [UInt8]? = nil
  ) throws {
    var lo = 0
    while lo < values.count {
      let hi = min(values.count, lo + chunkFloats)
      try codec.send(
        WeightChunkMessage(totalLength: UInt64(values.count), last: hi == values.count), on: socket, step: step,
        tensorID: tensor, offset: UInt64(offset + lo), payload: UnsafeBufferPointer(rebasing: values[lo..<hi]),
        routingID: routingID)
      lo = hi
    }
  }

  /// Where each expected tensor's chunks go, checked as they come: a known tensor, the next
  /// offset in order, a length inside the expected range. Element `i` of tensor t lands in
  /// `buffer[i - base]`. `isComplete` once every range is covered (an empty one sends nothing).
  struct Receiver {
    struct Target {
      var buffer: UnsafeMutableBufferPointer<Float>
      var base: Int
      var range: Range<Int>
      fileprivate var next: Int = 0
    }
    private var targets: [UInt32: Target]
    let step: UInt64

    init(step: UInt64, _ targets: [UInt32: Target]) {
      self.step = step
      self.targets = targets.mapValues {
        var t = $0
        t.next = t.range.lowerBound
        return t
      }
      for t in targets.values {
        precondition(t.range.lowerBound >= t.base && t.range.upperBound - t.base <= t.buffer.count)
      }
    }

    var isComplete: Bool { targets.values.allSatisfy { $0.next == $0.range.upperBound } }

    /// Takes one chunk; throws on anything out of place.
    mutating func accept(_ env: Envelope, from who: String) throws {
      let h = env.header
      guard h.step == step, var t = targets[h.tensorID] else {
        throw DLPError.training("\(who) sent state for tensor \(h.tensorID) of step \(h.step), which was not asked for")
      }
      let n = Int(clamping: h.length)
      guard h.offset == UInt64(t.next), n > 0, n <= t.range.upperBound - t.next, let payload = env.payload else {
        throw DLPError.training(
          "\(who) sent \(h.length) values at \(h.offset) of tensor \(h.tensorID); expected the next ones at \(t.next) of \(t.range)")
      }
      let lo = t.next - t.base
      try payload.copy(into: UnsafeMutableBufferPointer(rebasing: t.buffer[lo..<(lo + n)]))
      t.next += n
      targets[h.tensorID] = t
    }
  }
}

extension StateTransfer.Receiver.Target {
  init(_ buffer: UnsafeMutableBufferPointer<Float>, base: Int = 0, range: Range<Int>) {
    self.buffer = buffer
    self.base = base
    self.range = range
  }
}
