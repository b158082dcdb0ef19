import DLP
import DLPTransport
import Foundation

/// `dlp bench allreduce`: times all-reduces of a float32 buffer among N worker PROCESSES (real
/// `dlp-worker --bench-rank R` processes, each with its own ZeroMQ context and I/O thread),
/// with the same collectives training uses.
///
/// The parent (`ProcessAllReduceBench.run`) binds a small rendezvous ROUTER and spawns the ranks
/// (as `LocalCluster` does: `posix_spawn`, registered for the Ctrl-C handler, `--exit-with-parent`).
/// The protocol, JSON frames over ROUTER/DEALER:
///
///     rank   -> parent   hello {rank, pid}
///     parent -> rank     config {workers, bytes, iterations, ...}
///     rank   -> parent   endpoint {endpoint}      its ring listener (ring) or the root's ROUTER
///                                                  (central, rank 0; "" for the other ranks)
///     parent -> rank     peers {next, root}
///     rank   -> parent   arrive {iteration}       once per iteration (warm-up included), after
///     parent -> rank     go {iteration}           refilling its buffer: a barrier, untimed
///     rank   -> parent   result {seconds} | error {message}
///
/// Each rank times its own iterations with `AllReduceBenchmark.time`; an iteration's time is its
/// slowest rank's (an all-reduce is done when every rank has the sum). Every rank checks every
/// result against the closed form and fails loudly on the first wrong element.
public enum ProcessAllReduceBench {
  /// What every rank runs; sent to the ranks in the `config` message.
  public struct Config: Codable, Sendable, Equatable {
    public var workers: Int
    /// Bytes of float32 per all-reduce (a multiple of 4).
    public var bytes: Int
    public var iterations: Int
    public var warmup: Int
    /// "ring" or "central".
    public var collective: String
    /// "tcp" (loopback, as ranks on separate hosts would talk), "ipc" (Unix domain sockets), or
    /// "shm" (ring only: the shared-memory collective, the floats in POSIX shared memory and
    /// the set-up over tcp, readiness through a mailbox in each segment, as same-host workers
    /// train by default).
    public var transport: String
    /// Pieces the buffer is streamed in; nil: the collective's default, what training uses.
    public var chunkBytes: Int?
    /// Longest wait for any one message, in seconds.
    public var timeout: Double
    /// Names this run's ipc socket files.
    public var tag: String
    /// Every socket between the ranks uses CURVE, as a secured job's do (each rank's key pair
    /// made at start, every rank's public key admitted by the others).
    public var curve: Bool
    /// The ring over tcp: "stream" (`StreamRing`, plain sockets, unsecured runs only), "zmq"
    /// (`RingAllReduce`), or "auto" (stream unless `curve`, as training picks).
    public var tcpWire: String = "auto"
    /// "auto": each rank bound to a CPU of its own when there are enough (as mpirun binds its
    /// ranks by default; see `CPUBinding`), "none": the scheduler places them.
    public var bindCPUs: String = "auto"

    /// What `bindCPUs` gives on this host: "core" (one CPU per rank) or "none".
    public var cpuBinding: String {
      bindCPUs == "auto" && CPUBinding.plan(slot: 0, slots: workers, threads: 1, allowed: CPUBinding.allowedCPUs()) != nil
        ? "core" : "none"
    }

    /// Whether the ring over tcp runs on `StreamRing`.
    public var usesStreamRing: Bool {
      collective == "ring" && transport == "tcp" && (tcpWire == "stream" || (tcpWire == "auto" && !curve))
    }

    public init(
      workers: Int, bytes: Int, iterations: Int = 20, warmup: Int = 3, collective: String = "ring",
      transport: String = "tcp", chunkBytes: Int? = nil, timeout: Double = 30,
      tag: String = UUID().uuidString.prefix(8).lowercased(), curve: Bool = false
    ) {
      self.curve = curve
      self.workers = workers
      self.bytes = bytes
      self.iterations = iterations
      self.warmup = warmup
      self.collective = collective
      self.transport = transport
      self.chunkBytes = chunkBytes
      self.timeout = timeout
      self.tag = tag
    }

    /// Throws a `BenchError` naming the first bad setting.
    public func validate() throws {
      guard (1...64).contains(workers) else {
        throw BenchError("--workers must be in 1...64, got \(workers)")
      }
      guard bytes >= 4, bytes % 4 == 0 else {
        throw BenchError(
          "--bytes must be a positive multiple of 4 (whole float32 values), got \(bytes)")
      }
      guard bytes <= 4 << 30 else {
        throw BenchError("--bytes must be at most 4 GiB, got \(bytes)")
      }
      guard (1...1_000_000).contains(iterations) else {
        throw BenchError("--iterations must be in 1...1000000, got \(iterations)")
      }
      guard warmup >= 0 else { throw BenchError("--warmup must be >= 0") }
      guard ["ring", "central"].contains(collective) else {
        throw BenchError("--allreduce must be central or ring, got '\(collective)'")
      }
      guard ["tcp", "ipc", "shm"].contains(transport) else {
        throw BenchError("--transport must be tcp, ipc or shm, got '\(transport)'")
      }
      guard transport != "shm" || collective == "ring" else {
        throw BenchError("--transport shm runs the ring's reduce-scatter/all-gather; use --allreduce ring")
      }
      if let c = chunkBytes, c < 4 || c > 64 << 20 {
        throw BenchError("--chunk-bytes must be in 4 B...64 MiB, got \(c)")
      }
      guard timeout > 0 else { throw BenchError("--timeout must be positive") }
      guard ["auto", "none"].contains(bindCPUs) else {
        throw BenchError("--bind-cpus must be auto or none, got '\(bindCPUs)'")
      }
      guard ["auto", "stream", "zmq"].contains(tcpWire) else {
        throw BenchError("--tcp-wire must be auto, stream or zmq, got '\(tcpWire)'")
      }
      guard tcpWire != "stream" || !curve else {
        throw BenchError("--tcp-wire stream has no encryption; CURVE runs on the zmq wire")
      }
    }

    /// The chunk size the collective runs with.
    public var resolvedChunkBytes: Int {
      if let chunkBytes { return chunkBytes }
      if collective == "central" { return CentralAllReduce.Options(rank: 0, worldSize: 1).chunkBytes }
      return usesStreamRing ? StreamRing.Options.defaultChunkBytes : RingAllReduce.Options.defaultChunkBytes
    }

    /// Where rank `rank` binds its collective socket.
    func bindEndpoint(rank: Int) -> String {
      transport == "ipc"
        ? "ipc://\(Self.ipcDirectory)/dlp-bench-\(tag)-\(rank)" : "tcp://127.0.0.1:*"
    }

    static var ipcDirectory: String {
      var d = NSTemporaryDirectory()
      while d.count > 1 && d.hasSuffix("/") { d.removeLast() }
      return d
    }
  }

  /// The figures `dlp bench allreduce` reports.
  public struct Report: Sendable {
    public var config: Config
    /// Per timed iteration: the slowest rank's seconds.
    public var iterationSeconds: [Double]
    /// Per rank: the median of its own timed iterations.
    public var rankMedianSeconds: [Double]
    public var medianSeconds: Double
    public var minSeconds: Double
    public var meanSeconds: Double
    public var busGBps: Double
    public var wallSeconds: Double

    /// The report JSON (`median_seconds`, `bus_gbps`, ... as DESIGN.md section 3 says).
    public var json: JSONValue {
      var o: [String: JSONValue] = [
        "benchmark": JSONValue("allreduce"),
        "collective": JSONValue(config.collective),
        "transport": JSONValue(config.transport),
        "tcp_wire": JSONValue(config.transport != "tcp" || config.collective != "ring" ? "" : config.usesStreamRing ? "stream" : "zmq"),
        "workers": JSONValue(config.workers),
        "bytes": JSONValue(config.bytes),
        "iterations": JSONValue(config.iterations),
        "warmup": JSONValue(config.warmup),
        "chunk_bytes": JSONValue(config.resolvedChunkBytes),
        "median_seconds": JSONValue(medianSeconds),
        "min_seconds": JSONValue(minSeconds),
        "mean_seconds": JSONValue(meanSeconds),
        "bus_gbps": JSONValue(busGBps),
        "algbw_gbps": JSONValue(medianSeconds > 0 ? Double(config.bytes) / medianSeconds / 1e9 : 0),
        "iteration_seconds": JSONValue(iterationSeconds),
        "rank_median_seconds": JSONValue(rankMedianSeconds),
        "verified": .bool(true),
        "wall_seconds": JSONValue(wallSeconds),
        "curve": .bool(config.curve),
        "cpu_binding": JSONValue(config.cpuBinding),
      ]
      if let load = Self.loadAverage() { o["load_average"] = JSONValue(load) }
      return .object(o)
    }

    /// One line for the terminal.
    public var summary: String {
      String(
        format:
          "all-reduce %@ over %@%@, %d workers, %d bytes: median %.6f s, min %.6f s, bus %.3f GB/s%@",
        config.collective, config.transport, config.curve ? " with CURVE" : "", config.workers, config.bytes,
        medianSeconds, minSeconds, busGBps,
        config.transport == "tcp" && config.collective == "ring" ? (config.usesStreamRing ? ", stream wire" : ", zmq wire") : "")
    }

    static func loadAverage() -> [Double]? {
      guard let text = try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8) else {
        return nil
      }
      let v = text.split(separator: " ").prefix(3).compactMap { Double($0) }
      return v.count == 3 ? v : nil
    }
  }

  /// Parses a size: plain bytes (`1600000`), decimal units (`4KB`, `4MB`, `1GB`: powers of 1000)
  /// or binary units (`16KiB`, `16MiB`, `1GiB`, and `K`/`M`/`G` alone: powers of 1024, as
  /// scripts/peers/mpi_allreduce.py reads them). Fractions are allowed (`1.5MB`).
  public static func parseSize(_ text: String) throws -> Int {
    let t = text.trimmingCharacters(in: .whitespaces)
    let digits = t.prefix { $0.isNumber || $0 == "." }
    let unit = t.dropFirst(digits.count).trimmingCharacters(in: .whitespaces).uppercased()
    let scales: [String: Double] = [
      "": 1, "B": 1, "K": 1024, "KIB": 1024, "KB": 1e3, "M": 1_048_576, "MIB": 1_048_576, "MB": 1e6,
      "G": 1_073_741_824, "GIB": 1_073_741_824, "GB": 1e9,
    ]
    guard !digits.isEmpty, let value = Double(digits), let scale = scales[unit] else {
      throw BenchError("cannot read the size '\(text)' (examples: 1600000, 4MB, 16MiB)")
    }
    let bytes = (value * scale).rounded()
    guard bytes.isFinite, bytes >= 0, bytes < 1e15 else {
      throw BenchError("size '\(text)' is out of range")
    }
    return Int(bytes)
  }

  /// Spawns the ranks, runs the benchmark, and returns the figures. Throws a `BenchError` when a
  /// rank fails, dies, times out or sees a wrong sum; no rank outlives this call.
  public static func run(_ config: Config) throws -> Report {
    try config.validate()
    let started = DispatchTime.now().uptimeNanoseconds
    let parent = try Parent(config: config)
    defer { parent.finish() }
    let perRank = try parent.drive()
    // An all-reduce is done when its slowest rank is done.
    let slowest = (0..<config.iterations).map { i in perRank.map { $0[i] }.max() ?? 0 }
    let wall = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
    let median = Self.median(slowest)
    return Report(
      config: config, iterationSeconds: slowest, rankMedianSeconds: perRank.map(Self.median),
      medianSeconds: median, minSeconds: slowest.min() ?? 0,
      meanSeconds: slowest.reduce(0, +) / Double(max(1, slowest.count)),
      busGBps: AllReduceBenchmark.busBandwidth(
        workers: config.workers, bytes: config.bytes, seconds: median),
      wallSeconds: wall)
  }

  static func median(_ values: [Double]) -> Double {
    guard !values.isEmpty else { return 0 }
    let s = values.sorted()
    return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
  }

  // MARK: Parent

  /// The parent's side: the rendezvous socket, the child processes, the barrier.
  final class Parent {
    let config: Config
    let context: ZMQContext
    let router: ZMQSocket
    let endpoint: String
    private(set) var pids: [pid_t] = []
    /// Routing id of each rank, once it said hello.
    private var ids: [[UInt8]?]
    /// Ranks that sent their result (they may exit; that is not a failure).
    private var finished = Set<Int>()
    private var reaped = false
    /// When each rank was first seen to have exited before sending its result.
    private var deathSeen: [Int: UInt64] = [:]

    init(config: Config) throws {
      self.config = config
      ids = Array(repeating: nil, count: config.workers)
      context = try ZMQContext()
      router = try ZMQSocket(
        context: context, kind: .router,
        options: .init(maxMessageSize: 64 << 20, sendTimeout: config.timeout, routerMandatory: true)
      )
      endpoint = try router.bind("tcp://127.0.0.1:*")
    }

    /// Starts the ranks and runs the protocol; returns each rank's timed seconds.
    func drive() throws -> [[Double]] {
      try spawn()
      let n = config.workers
      // hello -> config
      var heard = 0
      var keys = [String](repeating: "", count: n)
      while heard < n {
        let (rank, m) = try next(expect: "hello", phase: "starting")
        guard ids[rank] == nil else { throw BenchError("rank \(rank) said hello twice") }
        guard m.pid == pids[rank] else {
          throw BenchError(
            "a process claiming rank \(rank) has pid \(m.pid ?? -1), not \(pids[rank])")
        }
        ids[rank] = Self.routingID(rank: rank)
        if config.curve {
          guard let key = m.key, (try? CurveKey(z85: key)) != nil else { throw BenchError("rank \(rank) sent no CURVE key") }
          keys[rank] = key
        }
        heard += 1
      }
      for r in 0..<n {
        try send(BenchMessage(type: "config", config: config, keys: config.curve ? keys : nil), to: r)
      }
      // endpoints -> peers
      var endpoints = [String?](repeating: nil, count: n)
      while endpoints.contains(where: { $0 == nil }) {
        let (rank, m) = try next(expect: "endpoint", phase: "setting up the collective")
        guard endpoints[rank] == nil else { throw BenchError("rank \(rank) sent two endpoints") }
        guard let e = m.endpoint, e.count < 1024 else {
          throw BenchError("rank \(rank) sent no endpoint")
        }
        endpoints[rank] = e
      }
      for r in 0..<n {
        let next = config.collective == "ring" ? endpoints[(r + 1) % n]! : ""
        try send(
          BenchMessage(type: "peers", next: next, root: endpoints[0]!, all: endpoints.map { $0! }),
          to: r)
      }
      // The per-iteration barrier, then the results.
      var results = [[Double]?](repeating: nil, count: n)
      for i in 0..<(config.warmup + config.iterations) {
        var arrived = Set<Int>()
        while arrived.count < n {
          let (rank, m) = try next(expect: "arrive", phase: "iteration \(i)")
          guard m.iteration == i, arrived.insert(rank).inserted else {
            throw BenchError(
              "rank \(rank) is out of step: arrived at iteration \(m.iteration ?? -1) during \(i)")
          }
        }
        for r in 0..<n { try send(BenchMessage(type: "go", iteration: i), to: r) }
      }
      while results.contains(where: { $0 == nil }) {
        let (rank, m) = try next(expect: "result", phase: "collecting the results")
        guard let s = m.seconds, s.count == config.iterations,
          s.allSatisfy({ $0.isFinite && $0 >= 0 })
        else {
          throw BenchError("rank \(rank) sent a malformed result")
        }
        results[rank] = s
        finished.insert(rank)
      }
      return results.map { $0! }
    }

    static func routingID(rank: Int) -> [UInt8] { Array("bench-rank-\(rank)".utf8) }

    private func spawn() throws {
      let exe = try LocalCluster.workerExecutable()
      for r in 0..<config.workers {
        // The worker id is unused by a bench rank; it names the parent, so orphans can be found.
        let args = [
          exe, "--connect", endpoint, "--bench-rank", String(r), "--worker-id",
          "bench-\(getpid())-\(r)",
          "--exit-with-parent",
        ]
        do {
          pids.append(try ChildProcesses.spawn(exe, Array(args.dropFirst())))
        } catch {
          throw BenchError("\(error)")
        }
      }
    }

    private func send(_ m: BenchMessage, to rank: Int) throws {
      let data = try JSONEncoder().encode(m)
      do {
        try router.send(Self.routingID(rank: rank), more: true)
        try data.withUnsafeBytes { try router.send($0) }
      } catch {
        // An unreachable rank has usually just died, and its exit may show a moment after its
        // socket went: name the death when it does.
        for _ in 0..<20 {
          if let dead = deadRank(), dead.rank == rank { throw BenchError("\(dead.description); it could not be reached") }
          usleep(25_000)
        }
        throw BenchError("cannot reach rank \(rank): \(error)")
      }
    }

    /// The next message of type `expect` from a rank; an `error` message, a dead rank, a
    /// stranger's or malformed message, or silence longer than the timeout throws.
    private func next(expect: String, phase: String) throws -> (Int, BenchMessage) {
      let deadline = DispatchTime.now().uptimeNanoseconds + UInt64(config.timeout * 1e9)
      while true {
        // A rank's last message (its result, or the error it hit) may still be on its way when
        // its exit is seen: it counts as dead once nothing more came from it for a moment.
        if let dead = deadRank() {
          let now = DispatchTime.now().uptimeNanoseconds
          let seen = deathSeen[dead.rank] ?? now
          deathSeen[dead.rank] = seen
          if now - seen > 500_000_000 { throw BenchError("\(dead.description) while \(phase)") }
        }
        guard DispatchTime.now().uptimeNanoseconds < deadline else {
          throw BenchError(
            "no \(expect) message from the ranks within \(config.timeout) s while \(phase)")
        }
        guard try router.waitReadable(timeout: 0.05) else { continue }
        let frames: [ZMQMessage]
        do {
          frames = try router.receiveMultipart(timeout: 1, maxFrames: 2)
        } catch TransportError.malformed {
          continue  // a stranger's message of more than two frames
        }
        guard frames.count == 2 else { continue }
        let id = Array(frames[0].bytes)
        guard let rank = (0..<config.workers).first(where: { Self.routingID(rank: $0) == id })
        else { continue }
        guard let m = try? JSONDecoder().decode(BenchMessage.self, from: Data(frames[1].bytes)),
          m.rank == nil || m.rank == rank
        else {
          throw BenchError("rank \(rank) sent a malformed message while \(phase)")
        }
        if m.type == "error" { throw BenchError("rank \(rank): \(m.message ?? "failed")") }
        guard m.type == expect else {
          throw BenchError("rank \(rank) sent '\(m.type)' while \(phase) (expected '\(expect)')")
        }
        return (rank, m)
      }
    }

    /// The first rank that exited before sending its result, described.
    private func deadRank() -> (rank: Int, description: String)? {
      for (r, pid) in pids.enumerated() where !finished.contains(r) {
        guard let how = ChildProcesses.exitDescription(pid) else { continue }
        return (r, "rank \(r) (pid \(pid)) \(how)")
      }
      return nil
    }

    /// Waits briefly for the ranks to exit (they do after their result), kills the rest, reaps
    /// them all, and removes the run's ipc socket files.
    func finish() {
      guard !reaped else { return }
      reaped = true
      ChildProcesses.stop(pids, grace: finished.count == pids.count ? 5 : 0)
      router.close()
      if config.transport == "ipc" {
        for r in 0..<config.workers {
          unlink(String(config.bindEndpoint(rank: r).dropFirst("ipc://".count)))
        }
      }
    }
  }
}

/// A message of the benchmark's rendezvous (one JSON frame).
struct BenchMessage: Codable {
  var type: String
  var rank: Int? = nil
  var pid: Int32? = nil
  var config: ProcessAllReduceBench.Config? = nil
  var endpoint: String? = nil
  var next: String? = nil
  var root: String? = nil
  /// Every rank's collective endpoint, by rank (the shared-memory collective signals all peers).
  var all: [String]? = nil
  var iteration: Int? = nil
  var seconds: [Double]? = nil
  var message: String? = nil
  /// A rank's CURVE public key (hello), and every rank's by rank (config, with `--curve`).
  var key: String? = nil
  var keys: [String]? = nil
}

/// A failure of the benchmark, with a message that says what went wrong and where.
public struct BenchError: Error, CustomStringConvertible {
  public let description: String
  public init(_ description: String) { self.description = description }
}

/// One rank of `dlp bench allreduce`: the body of `dlp-worker --bench-rank R`.
public enum BenchRank {
  /// Joins the rendezvous at `connect` as rank `rank`, runs the timed all-reduces, sends the
  /// times (or the error) back. Throws after reporting a failure.
  public static func run(connect: String, rank: Int) throws {
    guard rank >= 0 else { throw BenchError("--bench-rank must be >= 0") }
    let context = try ZMQContext()
    let dealer = try ZMQSocket(
      context: context, kind: .dealer,
      options: .init(
        maxMessageSize: 1 << 20, sendTimeout: 30,
        routingID: ProcessAllReduceBench.Parent.routingID(rank: rank)))
    try dealer.connect(connect)
    defer { dealer.close(linger: 2) }
    func send(_ m: BenchMessage) throws {
      var m = m
      m.rank = rank
      let data = try JSONEncoder().encode(m)
      try data.withUnsafeBytes { try dealer.send($0) }
    }
    var timeout = 60.0
    func receive(_ type: String) throws -> BenchMessage {
      let frame = ZMQMessage()
      do {
        try dealer.receiveFrame(into: frame, timeout: timeout)
      } catch TransportError.timeout {
        throw BenchError(
          "rank \(rank): the parent at \(connect) said nothing for \(timeout) s (waiting for '\(type)')"
        )
      }
      guard let m = try? JSONDecoder().decode(BenchMessage.self, from: Data(frame.bytes)),
        m.type == type
      else {
        throw BenchError("rank \(rank): expected '\(type)' from the parent")
      }
      return m
    }
    do {
      // A key pair in case the run is secured (the config says), its public half to the parent.
      let pair = try CurveKeyPair.generate()
      try send(BenchMessage(type: "hello", pid: getpid(), key: pair.publicKey.z85))
      let configMessage = try receive("config")
      guard let config = configMessage.config else {
        throw BenchError("rank \(rank): no config")
      }
      try config.validate()
      guard rank < config.workers else {
        throw BenchError("rank \(rank) is not in a group of \(config.workers)")
      }
      timeout = config.timeout
      if config.bindCPUs == "auto",
        let cpus = CPUBinding.plan(slot: rank, slots: config.workers, threads: 1, allowed: CPUBinding.allowedCPUs())
      {
        try CPUBinding.bind(cpus)
      }
      // Every peer's key is admitted before any listener binds, so no connection races it.
      var security: (pair: CurveKeyPair, peers: [CurveKey])?
      if config.curve {
        let keys = try (configMessage.keys ?? []).map { try CurveKey(z85: $0) }
        guard keys.count == config.workers else { throw BenchError("rank \(rank): no CURVE keys from the parent") }
        security = (pair, keys)
      }
      let sockets = try SocketSecurity(
        context: context,
        options: security.map { s in
          .curve(
            CurveCredentials(
              keyPair: s.pair,
              authorizedKeys: Dictionary(uniqueKeysWithValues: s.peers.enumerated().map { ("rank \($0.offset)", $0.element) })))
        } ?? .insecure)
      let collective = try setUp(
        config: config, rank: rank, context: context, security: security, sockets: sockets, send: send, receive: receive)
      defer { collective.close() }
      let count = config.bytes / 4
      // The shared-memory collective reads the buffer where it lives, as training's weights and
      // gradients do: take it from the segment. Other collectives get ordinary memory.
      let shared = (collective as? SharedMemoryAllReduce).map {
        UnsafeMutableBufferPointer(rebasing: $0.registeredBuffer(0)[0..<count])
      }
      let buffer = shared ?? UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
      defer { if shared == nil { buffer.deallocate() } }
      // Tests check that a wrong sum fails loudly: this rank then spoils one element of the
      // first timed result.
      let pattern = Pattern(rank: rank, workers: config.workers)
      let spoil =
        ProcessInfo.processInfo.environment["DLP_BENCH_SPOIL_RANK"].flatMap(Int.init) == rank
      func check(_ i: Int) throws {
        if spoil && i == config.warmup { buffer[count / 2] += 1 }
        try pattern.verify(buffer, iteration: i)
      }
      var iteration = 0
      let seconds = try AllReduceBenchmark.time(
        collective, buffer: buffer, iterations: config.iterations, warmup: config.warmup
      ) {
        if iteration > 0 { try check(iteration - 1) }
        pattern.fill(buffer, iteration: iteration)
        try send(BenchMessage(type: "arrive", iteration: iteration))
        let go = try receive("go")
        guard go.iteration == iteration else {
          throw BenchError(
            "rank \(rank): released for iteration \(go.iteration ?? -1) at \(iteration)")
        }
        iteration += 1
      }
      try check(iteration - 1)
      try send(BenchMessage(type: "result", seconds: seconds))
    } catch {
      try? send(BenchMessage(type: "error", message: "\(error)"))
      throw error
    }
  }

  private static func setUp(
    config: ProcessAllReduceBench.Config, rank: Int, context: ZMQContext,
    security: (pair: CurveKeyPair, peers: [CurveKey])?, sockets: SocketSecurity,
    send: (BenchMessage) throws -> Void,
    receive: (String) throws -> BenchMessage
  ) throws -> AllReduceCollective {
    let n = config.workers
    let bind = config.bindEndpoint(rank: rank)
    /// A ring rank announces its listener and learns its successor's (nil for a single rank).
    func successor(announcing endpoint: String?) throws -> String? {
      try send(BenchMessage(type: "endpoint", endpoint: endpoint ?? ""))
      let next = try receive("peers").next ?? ""
      guard n == 1 || !next.isEmpty else { throw BenchError("rank \(rank): no next endpoint") }
      return n > 1 ? next : nil
    }
    switch config.collective {
    case "central":
      var options = CentralAllReduce.Options(
        rank: rank, worldSize: n, chunkBytes: config.resolvedChunkBytes, timeout: config.timeout,
        rootContributes: true)
      if let security {
        options.curve = rank == 0 ? .server(security.pair) : .client(security.pair, serverKey: security.peers[0])
      }
      if rank == 0 {
        let root = try CentralAllReduce(context: context, endpoint: bind, options: options)
        try send(BenchMessage(type: "endpoint", endpoint: root.endpoint ?? ""))
        _ = try receive("peers")
        return root
      }
      try send(BenchMessage(type: "endpoint", endpoint: ""))
      let peers = try receive("peers")
      guard let root = peers.root, !root.isEmpty else {
        throw BenchError("rank \(rank): no root endpoint")
      }
      return try CentralAllReduce(context: context, endpoint: root, options: options)
    case _ where config.transport == "shm":
      let listener = n > 1 ? try CollectiveListener(context: context, bind: bind, curve: sockets.serverRole) : nil
      try send(BenchMessage(type: "endpoint", endpoint: listener?.endpoint ?? ""))
      let peers = try receive("peers")
      let all = peers.all ?? []
      guard n == 1 || all.count == n else { throw BenchError("rank \(rank): no peer endpoints") }
      // The parent's tag names the segments: unique per run, the same for every rank.
      let token = XXH64.hash(Array(config.tag.utf8))
      var options = SharedMemoryAllReduce.Options(
        rank: rank, worldSize: n, jobID: token | 1, capacity: config.bytes / 4,
        timeout: config.timeout, segmentPrefix: "dlp-bench", registeredBuffers: 1)
      options.curve = security
      return try SharedMemoryAllReduce(context: context, listener: listener, endpoints: all, options: options)
    case _ where config.usesStreamRing:
      let listener = n > 1 ? try StreamListener(host: "127.0.0.1") : nil
      let next = try successor(announcing: listener?.endpoint)
      defer { listener?.close() }
      return try StreamRing(
        listener: listener, nextEndpoint: next,
        options: .init(rank: rank, worldSize: n, chunkBytes: config.resolvedChunkBytes, timeout: config.timeout))
    default:
      var options = RingAllReduce.Options(
        rank: rank, worldSize: n, chunkBytes: config.resolvedChunkBytes, timeout: config.timeout)
      if let security, n > 1 { options.curve = .client(security.pair, serverKey: security.peers[(rank + 1) % n]) }
      let listener =
        n > 1
        ? try CollectiveListener(
          context: context, bind: bind, maxChunkBytes: config.resolvedChunkBytes, curve: sockets.serverRole)
        : nil
      return try RingAllReduce(
        context: context, listener: listener, nextEndpoint: try successor(announcing: listener?.endpoint),
        options: options)
    }
  }

  /// The values every rank fills in and checks, in blocks copied from (and compared with)
  /// precomputed tables, so filling and checking run at memcpy speed between the timed calls.
  ///
  /// Element j of rank r at iteration i is (r + 1) + ((j + 7i) mod 256): the values depend on
  /// the element and the iteration, so a misplaced shard or a stale buffer cannot pass `verify`,
  /// and they are small integers, so every sum is exact in float32 (bit-identical to the closed
  /// form N(N+1)/2 + N((j + 7i) mod 256) whatever the order of the additions).
  struct Pattern {
    static let block = 4096
    let rank: Int
    let workers: Int
    /// table[t] = base + scale * (t mod 256) for t < block + 256: element j + k of a block
    /// starting at j (a multiple of 256) at iteration i is table[k + (7i mod 256)].
    private let own: [Float]
    private let sum: [Float]

    init(rank: Int, workers: Int) {
      self.rank = rank
      self.workers = workers
      func table(_ base: Float, _ scale: Float) -> [Float] {
        (0..<(Self.block + 256)).map { base + scale * Float($0 & 255) }
      }
      own = table(Float(rank + 1), 1)
      sum = table(Float(workers * (workers + 1) / 2), Float(workers))
    }

    private static func phase(_ iteration: Int) -> Int { (iteration &* 7) & 255 }

    /// This rank's contribution for `iteration`.
    func fill(_ buffer: UnsafeMutableBufferPointer<Float>, iteration: Int) {
      guard let p = buffer.baseAddress else { return }
      own.withUnsafeBufferPointer { t in
        let source = t.baseAddress! + Self.phase(iteration)
        var j = 0
        while j < buffer.count {
          let n = min(Self.block, buffer.count - j)
          (p + j).update(from: source, count: n)
          j += n
        }
      }
    }

    /// Throws, naming the first wrong element, unless `buffer` holds the sum over all ranks of
    /// their contributions for `iteration`.
    func verify(_ buffer: UnsafeMutableBufferPointer<Float>, iteration: Int) throws {
      guard let p = buffer.baseAddress else { return }
      try sum.withUnsafeBufferPointer { t in
        let expected = t.baseAddress! + Self.phase(iteration)
        var j = 0
        while j < buffer.count {
          let n = min(Self.block, buffer.count - j)
          if memcmp(p + j, expected, n * 4) != 0 {
            let k = (0..<n).first { p[j + $0] != expected[$0] } ?? 0
            throw BenchError(
              "rank \(rank), iteration \(iteration): element \(j + k) of the all-reduced buffer is \(p[j + k]), expected \(expected[k]) (the sum of \(workers) ranks)"
            )
          }
          j += n
        }
      }
    }
  }
}
