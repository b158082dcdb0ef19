import DLP
import Foundation
import XCTest

/// Runs the real `dlp`, `dlp-coordinator` and `dlp-worker` executables.
enum Harness {
  /// Where the executables are: $DLP_BIN_DIR (set by scripts/test), else the package's
  /// release or debug build folder. Missing executables fail the test loudly.
  static func binary(_ name: String) throws -> String {
    var dirs: [String] = []
    if let d = ProcessInfo.processInfo.environment["DLP_BIN_DIR"] { dirs.append(d) }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    dirs += [root.appendingPathComponent(".build/release").path, root.appendingPathComponent(".build/debug").path]
    for d in dirs where FileManager.default.isExecutableFile(atPath: "\(d)/\(name)") { return "\(d)/\(name)" }
    XCTFail("\(name) not found in \(dirs); build it first (scripts/test does: swift build -c release)")
    throw CocoaError(.fileNoSuchFile)
  }

  struct Result {
    var status: Int32
    var stdout: String
    var stderr: String
  }

  final class Running: @unchecked Sendable {
    let process: Process
    let out = Pipe()
    let err = Pipe()
    /// Standard error read so far by `waitForError` (the rest is read by `wait`).
    private var errSoFar = Data()
    init(process: Process) { self.process = process }

    /// Waits until the process's standard error contains `text` (an event the process reports),
    /// at most `timeout` seconds; reading does not block, so a process that never says it
    /// cannot hang the test.
    func waitForError(containing text: String, timeout: Double) -> Bool {
      let fd = err.fileHandleForReading.fileDescriptor
      _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
      defer { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) }
      var chunk = [UInt8](repeating: 0, count: 65536)
      return Harness.waitUntil(timeout: timeout) {
        while true {
          let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
          if n <= 0 { break }
          errSoFar.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: errSoFar, as: UTF8.self).contains(text)
      }
    }

    func wait(timeout: Double) -> Result? {
      let deadline = Date().addingTimeInterval(timeout)
      while process.isRunning && Date() < deadline { usleep(20_000) }
      if process.isRunning {
        process.terminate()
        return nil
      }
      return Result(
        status: process.terminationStatus,
        stdout: String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self),
        stderr: String(decoding: errSoFar + err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))
    }
  }

  /// `errorLog`: write standard error to this file instead of a pipe, for a process that logs
  /// more than a pipe holds while the test is busy elsewhere (read the file afterwards).
  static func start(
    _ name: String, _ args: [String], cwd: String? = nil, environment: [String: String] = [:], errorLog: String? = nil
  ) throws -> Running {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: try binary(name))
    p.arguments = args
    if !environment.isEmpty { p.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 } }
    if let cwd { p.currentDirectoryURL = URL(fileURLWithPath: cwd) }
    let r = Running(process: p)
    p.standardOutput = r.out
    p.standardError = r.err
    if let errorLog {
      _ = FileManager.default.createFile(atPath: errorLog, contents: nil)
      p.standardError = FileHandle(forWritingAtPath: errorLog)
      try r.err.fileHandleForWriting.close()
    }
    try p.run()
    return r
  }

  static func run(
    _ name: String, _ args: [String], timeout: Double = 120, cwd: String? = nil, environment: [String: String] = [:]
  ) throws -> Result {
    let r = try start(name, args, cwd: cwd, environment: environment)
    guard let result = r.wait(timeout: timeout) else {
      XCTFail("\(name) \(args.joined(separator: " ")) did not finish in \(timeout) s")
      throw CocoaError(.executableLoad)
    }
    return result
  }

  /// A fresh folder for one test's files.
  static func folder() -> String {
    let d = NSTemporaryDirectory() + "dlp-e2e-\(getpid())-\(UUID().uuidString.prefix(8))"
    try? FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
    return d
  }

  /// A 3-class CSV dataset (`features...,label`) of `n` rows, and a model JSON with Dropout
  /// compiled for it. n need not divide by the batch or the worker count.
  static func makeJob(in dir: String, rows n: Int = 1001) throws -> (csv: String, model: String) {
    var rng = SeededGenerator(seed: 42)
    var lines = ["f0,f1,f2,f3,f4,f5,label"]
    for _ in 0..<n {
      let c = Int(rng.next() % 3)
      let f = (0..<6).map { j in Float(j % 3 == c ? 1 : 0) + rng.nextNormal() * 0.6 }
      lines.append(f.map { String($0) }.joined(separator: ",") + ",\(c)")
    }
    let csv = dir + "/data.csv"
    try lines.joined(separator: "\n").write(toFile: csv, atomically: true, encoding: .utf8)
    let m = try Sequential([
      InputLayer(shape: [6]), Dense(16, activation: .relu, kernelRegularizer: .l2(1e-3)), Dropout(0.3),
      Dense(3, activation: .softmax),
    ])
    try m.compile(optimizer: "adam", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
    let model = dir + "/model.json"
    try m.toJSON().write(toFile: model, atomically: true, encoding: .utf8)
    return (csv, model)
  }

  /// A 3-class image dataset (`x_train [650, 12, 12, 1]` of continuous values: a class's
  /// bright quadrant plus noise, so no two pixels tie) as an .npz, and two convnets compiled
  /// for it with SGD: a Sequential one and a functional one with a shared Conv2D applied to two
  /// branches, Add and Concatenate. 650 divides neither by the batch nor by the workers.
  static func makeImageJob(in dir: String, rows n: Int = 650) throws -> (npz: String, sequential: String, functional: String) {
    var rng = SeededGenerator(seed: 7)
    func images(_ count: Int) throws -> (x: Tensor, y: Tensor) {
      var x = [Float](), y = [Float]()
      for _ in 0..<count {
        let c = Int(rng.next() % 3)
        y.append(Float(c))
        for i in 0..<12 {
          for j in 0..<12 {
            let lit = (c == 0 && i < 6 && j < 6) || (c == 1 && i >= 6 && j >= 6) || (c == 2 && i < 6 && j >= 6)
            x.append((lit ? 0.8 : 0.2) + rng.nextNormal() * 0.3)
          }
        }
      }
      return (try Tensor(shape: [count, 12, 12, 1], scalars: x), try Tensor(shape: [count], scalars: y))
    }
    let train = try images(n)
    let test = try images(100)
    var npz = NPZWriter()
    try npz.add("x_train", train.x)
    try npz.add("y_train", train.y)
    try npz.add("x_test", test.x)
    try npz.add("y_test", test.y)
    let data = dir + "/images.npz"
    try npz.write(to: URL(fileURLWithPath: data))

    let sequential = try Sequential([
      InputLayer(shape: [12, 12, 1]), Conv2D(6, kernelSize: 3, activation: .relu), MaxPooling2D(2),
      Conv2D(8, kernelSize: 3, activation: .relu), Flatten(), Dense(3, activation: .softmax),
    ])
    let input = Input(shape: [12, 12, 1])
    let shared = try Conv2D(4, kernelSize: 3, padding: .same, activation: .relu)
    let a = try shared(input)
    let b = try shared(try Conv2D(1, kernelSize: 1)(input))
    let merged = try Concatenate()([try Add()([a, b]), a])
    let pooled = try MaxPooling2D(2)(try Conv2D(6, kernelSize: 3, activation: .relu)(merged))
    let output = try Dense(3, activation: .softmax)(try Flatten()(pooled))
    let functional = try Model(inputs: input, outputs: output)
    var paths: [String] = []
    for (name, model) in [("sequential", sequential as Model), ("functional", functional)] {
      try model.compile(optimizer: "sgd", loss: "sparse_categorical_crossentropy", metrics: ["accuracy"])
      let path = "\(dir)/\(name).json"
      try model.toJSON().write(toFile: path, atomically: true, encoding: .utf8)
      paths.append(path)
    }
    return (data, paths[0], paths[1])
  }

  /// Padded id sequences (`x_train` int32 [n, 12] over a vocabulary of 30, pre-padded with 0s;
  /// `y_train` 3 classes, learnable from the ids) as an .npz, and two sequence models compiled
  /// for them with SGD: a stacked LSTM on masked embeddings with dropout and recurrent dropout,
  /// and a bidirectional GRU with recurrent dropout. n need not divide by the batch or workers.
  static func makeSequenceJob(in dir: String, rows n: Int = 203) throws -> (npz: String, lstm: String, gru: String) {
    var rng = SeededGenerator(seed: 11)
    var ids: [Int32] = []
    var labels: [Float] = []
    for _ in 0..<n {
      let c = Int(rng.next() % 3)
      let length = 3 + Int(rng.next() % 10)
      for t in 0..<12 {
        let word = t < 12 - length ? 0 : 1 + (c * 9 + Int(rng.next() % 12)) % 29
        ids.append(Int32(word))
      }
      labels.append(Float(c))
    }
    var bytes: [UInt8] = []
    for v in ids { withUnsafeBytes(of: v.littleEndian) { bytes.append(contentsOf: $0) } }
    var npz = NPZWriter()
    try npz.add("x_train", NPYArray(shape: [n, 12], dtype: .int32, littleEndianData: bytes))
    try npz.add("y_train", Tensor(labels))
    let data = dir + "/sequences.npz"
    try npz.write(to: URL(fileURLWithPath: data))

    let lstm = try Sequential([
      InputLayer(shape: [12], dtype: .int32), Embedding(30, 8, maskZero: true),
      LSTM(8, returnSequences: true, dropout: 0.2, recurrentDropout: 0.2), LSTM(6), Dense(3, activation: .softmax),
    ])
    let gru = try Sequential([
      InputLayer(shape: [12], dtype: .int32), Embedding(30, 8), Bidirectional(GRU(6, recurrentDropout: 0.1)),
      Dense(3, activation: .softmax),
    ])
    var paths: [String] = []
    for (name, model) in [("lstm", lstm), ("gru", gru)] {
      try model.compile(optimizer: SGD(learningRate: 0.1), losses: [SparseCategoricalCrossentropy()], metrics: ["accuracy"])
      let path = "\(dir)/\(name).json"
      try model.toJSON().write(toFile: path, atomically: true, encoding: .utf8)
      paths.append(path)
    }
    return (data, paths[0], paths[1])
  }

  /// Largest |a - b| / max(|a|, 1e-3) over every weight of two --save-weights files.
  static func maxRelativeDifference(_ a: String, _ b: String) throws -> Float {
    let x = try WeightsFile.read(a)
    let y = try WeightsFile.read(b)
    XCTAssertEqual(Set(x.keys), Set(y.keys))
    var worst: Float = 0
    for (k, t) in x {
      guard let u = y[k], u.shape == t.shape else {
        XCTFail("weight \(k) differs in shape")
        return .infinity
      }
      for (p, q) in zip(t.scalars, u.scalars) { worst = max(worst, abs(p - q) / max(abs(p), 1e-3)) }
    }
    return worst
  }

  static func report(_ path: String) throws -> JSONValue {
    try JSONValue.parse(Data(contentsOf: URL(fileURLWithPath: path)))
  }

  /// Worker processes whose id mentions `tag` (launched workers carry their parent's pid).
  static func processes(matching tag: String) -> [pid_t] {
    let procs = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    return procs.compactMap { Int32($0) }.filter { pid in
      guard let cmd = try? String(contentsOfFile: "/proc/\(pid)/cmdline", encoding: .utf8) else { return false }
      return cmd.contains("dlp-worker") && cmd.contains(tag)
    }
  }

  /// Waits until `condition` holds (checked every 20 ms), at most `timeout` seconds: for an
  /// event the test can observe (a file written, a process gone), never a fixed sleep.
  @discardableResult
  static func waitUntil(timeout: Double, _ condition: () -> Bool) -> Bool {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() {
      if Date() >= deadline { return false }
      usleep(20_000)
    }
    return true
  }

  /// Files in `dir` whose names end with `suffix`.
  static func files(in dir: String, endingWith suffix: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
  }

  /// A free TCP port on loopback.
  static func freePort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    addr.sin_port = 0
    _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
    var len = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
    return Int(UInt16(bigEndian: addr.sin_port))
  }
}
