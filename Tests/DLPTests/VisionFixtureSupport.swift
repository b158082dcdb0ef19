import Foundation
import XCTest

@testable import DLP

/// Tests/Fixtures/vision, made by scripts/peers/make_vision_fixtures.py with Keras 3 on JAX.
enum VisionFixtures {
  static let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/vision")

  static func path(_ name: String) -> String { folder.appendingPathComponent(name).path }

  static func json(_ name: String) throws -> JSONValue {
    guard let data = FileManager.default.contents(atPath: path(name)) else {
      throw DLPError.io("missing fixture \(path(name)) (scripts/peers/make_vision_fixtures.py makes it)")
    }
    return try JSONValue.parse(data, source: name)
  }

  static func arrays(_ name: String) throws -> [String: Tensor] { try WeightsFile.read(path(name)) }

  static func model(_ name: String, seed: UInt64 = 0) throws -> (Model, KerasCompileConfig?) {
    try KerasModelReader.read(path: path(name), seed: seed)
  }
}

/// Largest |a - b| / max(1, |b|).
func maxRelativeDifference(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "\(a.count) vs \(b.count) values")
  return zip(a, b).reduce(0) { Swift.max($0, Swift.abs($1.0 - $1.1) / Swift.max(1, Swift.abs($1.1))) }
}
