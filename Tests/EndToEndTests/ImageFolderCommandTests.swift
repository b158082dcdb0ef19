import DLP
import Foundation
import XCTest

/// `dlp train|evaluate|predict --dataset DIR` on images in class folders: in-process, decoded
/// batch by batch over the memory budget, on worker processes (loading the folder themselves;
/// `dlp-coordinator --ship-data` ships the decoded tensors like any dataset's), and clear errors.
final class ImageFolderCommandTests: XCTestCase {
  /// 3 classes of 28 x 28 grayscale images (a bright band whose place is the class, plus a
  /// deterministic texture), PNG and JPEG taking turns.
  static func makeFolder(_ dir: String, perClass: Int = 40) throws -> String {
    let root = "\(dir)/images"
    for k in 0..<3 {
      let folder = URL(fileURLWithPath: "\(root)/class_\(k)")
      try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      for i in 0..<perClass {
        let pixels = (0..<(28 * 28)).map { p -> UInt8 in
          let (y, x) = (p / 28, p % 28)
          let band = (y / 9 == k) ? 160 : 20
          return UInt8((band + (x * 7 + y * 3 + i * 11) % 60) % 256)
        }
        let url = folder.appendingPathComponent(i % 2 == 0 ? "\(i).png" : "\(i).jpg")
        if i % 2 == 0 {
          try PNGWriter.write(pixels: pixels, height: 28, width: 28, channels: 1, to: url)
        } else {
          try JPEGWriter.write(pixels: pixels, height: 28, width: 28, channels: 1, to: url)
        }
      }
    }
    return root
  }

  func train(_ root: String, _ dir: String, _ tag: String, _ extra: [String]) throws -> (
    weights: String, report: JSONValue
  ) {
    let weights = "\(dir)/\(tag).npz"
    let report = "\(dir)/\(tag).json"
    let r = try Harness.run(
      "dlp",
      [
        "train", "--dataset", root, "--preset", "mnist-convnet", "--color-mode", "grayscale", "--epochs", "2",
        "--batch-size", "16", "--validation-split", "0.25", "--seed", "3", "--quiet", "--save-weights", weights,
        "--report", report,
      ] + extra, timeout: 300)
    XCTAssertEqual(r.status, 0, "\(tag): \(r.stderr)")
    return (weights, try Harness.report(report))
  }

  func testTrainingInMemoryStreamedAndOnWorkersAgree() throws {
    let dir = Harness.folder()
    let root = try Self.makeFolder(dir)
    let memory = try train(root, dir, "memory", [])
    let history = memory.report["history"]!
    XCTAssertEqual(history["val_accuracy"]?.array?.count, 2)
    XCTAssertGreaterThan(history["val_accuracy"]!.array!.last!.double!, 0.6, "3 easy classes: \(history)")
    // Over the budget: decoded batch by batch, the same steps.
    let streamed = try train(root, dir, "streamed", ["--memory-budget", "0"])
    XCTAssertEqual(try Harness.maxRelativeDifference(memory.weights, streamed.weights), 0)
    // Workers load the folder with the job's image options (same files, same order, same
    // decoding: the content hashes agree).
    let workers = try train(root, dir, "workers", ["--workers", "2"])
    XCTAssertLessThan(try Harness.maxRelativeDifference(memory.weights, workers.weights), 1e-4)
    let overBudget = try Harness.run(
      "dlp",
      [
        "train", "--dataset", root, "--preset", "mnist-convnet", "--color-mode", "grayscale", "--workers", "2",
        "--memory-budget", "1KB",
      ])
    XCTAssertEqual(overBudget.status, 1)
    XCTAssertTrue(overBudget.stderr.contains("--memory-budget"), overBudget.stderr)

    // Evaluate on the whole folder, predict it and one image.
    let ev = try Harness.run(
      "dlp",
      [
        "evaluate", "--dataset", root, "--preset", "mnist-convnet", "--color-mode", "grayscale", "--load-weights",
        memory.weights,
      ])
    XCTAssertEqual(ev.status, 0, ev.stderr)
    XCTAssertTrue(ev.stdout.contains("accuracy: "), ev.stdout)
    let predicted = "\(dir)/pred.npz"
    let p = try Harness.run(
      "dlp",
      [
        "predict", "--preset", "mnist-convnet", "--load-weights", memory.weights, "--input", root, "--output",
        predicted,
      ])
    XCTAssertEqual(p.status, 0, p.stderr)
    let arrays = try WeightsFile.read(predicted)
    XCTAssertEqual(arrays["y"]?.shape, [120, 10])
    XCTAssertEqual(arrays["labels"]?.shape, [120, 1])
    let one = try Harness.run(
      "dlp",
      [
        "predict", "--preset", "mnist-convnet", "--load-weights", memory.weights, "--input", "\(root)/class_1/0.png",
        "--output", "\(dir)/one.npz",
      ])
    XCTAssertEqual(one.status, 0, one.stderr)
    XCTAssertEqual(try WeightsFile.read("\(dir)/one.npz")["y"]?.shape, [1, 10])
    // Feature extraction: a layer's output with the labels, a dataset for dlp train.
    let features = try Harness.run(
      "dlp",
      [
        "predict", "--preset", "mnist-convnet", "--load-weights", memory.weights, "--input", root, "--layer", "flatten",
        "--output", "\(dir)/features.npz",
      ])
    XCTAssertEqual(features.status, 0, features.stderr)
    let f = try WeightsFile.read("\(dir)/features.npz")
    XCTAssertEqual(f["x_train"]?.shape, [120, 576])
    XCTAssertEqual(f["y_train"]?.shape, [120, 1])
    // ... and a head trains on them.
    try JSONValue.object([
      "class_name": "Sequential",
      "config": [
        "name": "head",
        "layers": [
          ["class_name": "InputLayer", "config": ["batch_shape": [nil, 576], "name": "features"]],
          ["class_name": "Dense", "config": ["units": 3, "activation": "softmax", "name": "out"]],
        ],
      ],
      "compile_config": ["optimizer": "rmsprop", "loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]],
    ]).serialized().write(toFile: "\(dir)/head.json", atomically: true, encoding: .utf8)
    let head = try Harness.run(
      "dlp", ["train", "--dataset", "\(dir)/features.npz", "--model", "\(dir)/head.json", "--epochs", "2", "--quiet"])
    XCTAssertEqual(head.status, 0, head.stderr)
  }

  func testFolderErrorsAreClear() throws {
    let dir = Harness.folder()
    let root = try Self.makeFolder(dir, perClass: 4)
    func fails(_ extra: [String], mentioning text: String, line: UInt = #line) throws {
      let r = try Harness.run(
        "dlp",
        ["train", "--dataset", root, "--preset", "mnist-convnet", "--color-mode", "grayscale", "--quiet"] + extra)
      XCTAssertEqual(r.status, 1, line: line)
      XCTAssertTrue(r.stderr.contains(text), "expected '\(text)' in: \(r.stderr)", line: line)
    }
    try Data("garbage".utf8).write(to: URL(fileURLWithPath: "\(root)/class_2/0.png"))
    try fails([], mentioning: "class_2/0.png")
    try PNGWriter.write(
      pixels: [UInt8](repeating: 9, count: 30 * 28), height: 30, width: 28, channels: 1,
      to: URL(fileURLWithPath: "\(root)/class_2/0.png"))
    try fails([], mentioning: "--image-size")
    try FileManager.default.createDirectory(atPath: "\(root)/class_3", withIntermediateDirectories: true)
    try fails(["--image-size", "28,28"], mentioning: "class_3 has no PNG or JPEG images")
    try FileManager.default.removeItem(atPath: "\(root)/class_3")
    try fails(["--image-size", "28,28", "--color-mode", "rgb"], mentioning: "expects samples of shape")
  }
}
