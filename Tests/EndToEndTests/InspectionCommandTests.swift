import DLP
import Foundation
import XCTest

/// `dlp gradcam`, `dlp activations`, `dlp filters` and the freezing flags, as a user runs them.
final class InspectionCommandTests: XCTestCase {
  static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/vision").path

  func dlp(_ args: [String], file: StaticString = #filePath, line: UInt = #line) throws -> Harness.Result {
    let r = try Harness.run("dlp", args)
    XCTAssertEqual(r.status, 0, "dlp \(args.joined(separator: " ")): \(r.stderr)", file: file, line: line)
    return r
  }

  func isPNG(_ path: String) -> Bool {
    FileManager.default.contents(atPath: path)?.starts(with: [0x89, 0x50, 0x4E, 0x47]) ?? false
  }

  func testGradCAMActivationsAndFilters() throws {
    let dir = Harness.folder()
    let f = Self.fixtures
    let model = ["--model", "\(f)/gradcam.json", "--load-weights", "\(f)/gradcam.weights.npz"]
    _ = try dlp(
      ["gradcam"] + model + ["--input", "\(f)/gradcam.io.npz", "--layer", "last_conv", "--output", "\(dir)/heat.npz"])
    let heat = try WeightsFile.read("\(dir)/heat.npz")
    let expected = try WeightsFile.read("\(f)/gradcam.io.npz")
    XCTAssertEqual(heat["heatmap"]!.shape, expected["heatmap"]!.shape)
    for (a, b) in zip(heat["heatmap"]!.scalars, expected["heatmap"]!.scalars) { XCTAssertEqual(a, b, accuracy: 1e-5) }

    // A PNG input: the same image, through the PNG encoder and libpng.
    let x = expected["x"]!
    try PNGWriter.write(
      pixels: x.scalars.map { UInt8($0) }, height: 16, width: 16, channels: 3, to: URL(fileURLWithPath: "\(dir)/in.png")
    )
    _ = try dlp(
      ["gradcam"] + model + ["--input", "\(dir)/in.png", "--layer", "last_conv", "--output", "\(dir)/heat2.npz"])
    XCTAssertEqual(try WeightsFile.read("\(dir)/heat2.npz")["heatmap"]!.scalars, heat["heatmap"]!.scalars)
    _ = try dlp(
      ["gradcam"] + model + [
        "--input", "\(dir)/in.png", "--layer", "last_conv", "--class", "2", "--output", "\(dir)/heat.png",
      ])
    XCTAssertTrue(isPNG("\(dir)/heat.png"))

    _ = try dlp(
      ["activations"] + model + ["--input", "\(dir)/in.png", "--layer", "conv1", "--output", "\(dir)/act.png"])
    XCTAssertTrue(isPNG("\(dir)/act.png"))
    let r = try dlp(
      ["filters"] + model + ["--layer", "conv1", "--filter", "0-2", "--iterations", "5", "--output", "\(dir)/f.png"])
    XCTAssertTrue(r.stdout.contains("filter 2:"), r.stdout)
    XCTAssertTrue(isPNG("\(dir)/f.png"))

    // Errors name what is wrong.
    let bad = try Harness.run(
      "dlp", ["gradcam"] + model + ["--input", "\(dir)/in.png", "--layer", "nope", "--output", "\(dir)/x.npz"])
    XCTAssertEqual(bad.status, 1)
    XCTAssertTrue(bad.stderr.contains("no layer named 'nope'"), bad.stderr)
    try Data("not an image".utf8).write(to: URL(fileURLWithPath: "\(dir)/broken.png"))
    let broken = try Harness.run(
      "dlp", ["activations"] + model + ["--input", "\(dir)/broken.png", "--layer", "conv1", "--output", "\(dir)/a.png"])
    XCTAssertEqual(broken.status, 1)
    XCTAssertTrue(broken.stderr.contains("broken.png"), broken.stderr)
  }

  /// The book's frozen VGG16 base: Keras's counts, then fine-tuning's flags.
  func testSummaryCountsAndFreezingFlags() throws {
    let f = Self.fixtures
    let frozen = try dlp(["summary", "--model", "\(f)/vgg16_head.json"])
    XCTAssertTrue(frozen.stdout.contains("vgg16 (Functional)"), frozen.stdout)
    XCTAssertTrue(frozen.stdout.contains("Trainable params: 131,585"), frozen.stdout)
    XCTAssertTrue(frozen.stdout.contains("Non-trainable params: 14,714,688"), frozen.stdout)
    // Unfreeze the base's top block (block5: 3 convolutions of 3x3x512x512 + 512).
    let tuned2 = try dlp(["summary", "--model", "\(f)/vgg16_head.json", "--unfreeze", "vgg16/block5_*"])
    XCTAssertTrue(
      tuned2.stdout.contains("Trainable params: 131,585"), "a layer inside a frozen base stays frozen: \(tuned2.stdout)"
    )
    let tuned3 = try dlp([
      "summary", "--model", "\(f)/vgg16_head.json", "--unfreeze", "vgg16", "--freeze",
      "block1_*,block2_*,block3_*,block4_*",
    ])
    XCTAssertTrue(
      tuned3.stdout.contains("Trainable params: \(Self.grouped(131_585 + 3 * (9 * 512 * 512 + 512)))"), tuned3.stdout)
  }

  static func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }
}
