import DLP
import DLPTransport

/// The training step's `StepCollective` as the cluster builds it over real sockets or shared
/// memory: it also closes what it opened, and reports which transport it runs on.
protocol ClusterCollective: StepCollective {
  /// "ring/shm", "ring/tcp", "central/tcp": the report's `allreduce`.
  var transportName: String { get }
  func close()
}

/// A ring among the replicas (`RingAllReduce` over tcp, or `SharedMemoryAllReduce`) as the
/// step's collective. Its calls are numbered here (every replica makes the same calls), and
/// each replica's statistics travel bit for bit: a replica writes its Doubles as raw bytes into
/// its slot of a float buffer, the all-gather copies (never adds) every slot, and each replica
/// sums the slots in rank order.
final class RingStepCollective: ClusterCollective {
  let ring: ShardedCollective
  let transportName: String
  /// The model store whose weights and gradients live in the ring's segment (shared memory).
  private let adopted: ParameterStore?
  private var sequence: UInt64 = 0
  private var scratch: [Float] = []

  init(_ ring: ShardedCollective, transportName: String, adopted: ParameterStore? = nil) {
    self.ring = ring
    self.transportName = transportName
    self.adopted = adopted
  }

  func ownedRange(count: Int) -> Range<Int> { ring.ownedRange(count: count) }

  func reduceScatter(_ gradients: UnsafeMutableBufferPointer<Float>) throws {
    sequence += 1
    try ring.reduceScatter(gradients, step: sequence, tensorID: 0)
  }

  func allGather(_ values: UnsafeMutableBufferPointer<Float>) throws {
    try ring.allGather(values, step: sequence, tensorID: 0)
  }

  func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>) throws {
    sequence += 1
    let n = ring.worldSize
    let width = 2 * values.count
    if scratch.count != n * width { scratch = [Float](repeating: 0, count: n * width) }
    try scratch.withUnsafeMutableBufferPointer { all in
      // Rank r's slot is exactly ShardPlan(count: n * width, parts: n).range(r).
      UnsafeMutableRawPointer(all.baseAddress! + ring.rank * width).copyMemory(
        from: values.baseAddress!, byteCount: values.count * 8)
      try ring.allGather(all, step: sequence, tensorID: 1)
      RankSlots.sum(all, ranks: n, into: values)
    }
  }

  func close() {
    // Back to private memory before the segment is unmapped.
    adopted?.release()
    ring.close()
  }
}

/// The central collective as the step's: the root (the coordinator) owns every weight and
/// steps the optimizer; the workers own none, send their gradients and receive the weights.
final class CentralStepCollective: ClusterCollective {
  let central: CentralAllReduce
  var transportName: String { "central/tcp" }
  private var sequence: UInt64 = 0
  private var scratch: [Float] = []

  init(_ central: CentralAllReduce) { self.central = central }

  func ownedRange(count: Int) -> Range<Int> { central.rank == 0 ? 0..<count : 0..<0 }

  func reduceScatter(_ gradients: UnsafeMutableBufferPointer<Float>) throws {
    sequence += 1
    try central.reduce(gradients, step: sequence)
  }

  func allGather(_ values: UnsafeMutableBufferPointer<Float>) throws {
    try central.broadcast(values, step: sequence)
  }

  func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>) throws {
    sequence += 1
    let n = central.worldSize
    let width = 2 * values.count
    if scratch.count != n * width { scratch = [Float](repeating: 0, count: n * width) }
    try scratch.withUnsafeMutableBufferPointer { all in
      UnsafeMutableRawPointer(all.baseAddress! + central.rank * width).copyMemory(
        from: values.baseAddress!, byteCount: values.count * 8)
      try central.gather(all, step: sequence, tensorID: 1)
      RankSlots.sum(all, ranks: n, into: values)
    }
  }

  func close() { central.close() }
}

/// Doubles carried as raw bytes in per-rank slots of a float buffer.
enum RankSlots {
  /// `values` = the sum over ranks, in rank order, of each rank's slot.
  static func sum(_ all: UnsafeMutableBufferPointer<Float>, ranks n: Int, into values: UnsafeMutableBufferPointer<Double>) {
    let width = values.count
    let raw = UnsafeRawPointer(all.baseAddress!)
    for i in 0..<width { values[i] = 0 }
    for r in 0..<n {
      for i in 0..<width { values[i] += raw.loadUnaligned(fromByteOffset: (r * width + i) * 8, as: Double.self) }
    }
  }
}
