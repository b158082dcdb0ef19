import XCTest

@testable import DLP

/// Every vision layer alone against Keras 3 on JAX (Tests/Fixtures/vision/layers.*): built
/// from Keras's own config, with Keras's weights, the inference output and, for the random
/// layers and BatchNormalization, the training outputs of their first two calls (the seed
/// generator's counters 0 and 1) and the moving statistics after them.
final class VisionLayerFixtureTests: XCTestCase {
  func testEveryLayerMatchesKeras() throws {
    let cases = try VisionFixtures.json("layers.json").array ?? []
    let arrays = try VisionFixtures.arrays("layers.npz")
    XCTAssertGreaterThan(cases.count, 20)
    for c in cases {
      let name = c["name"]!.string!
      let layer = try LayerRegistry.make(className: c["class_name"]!.string!, config: c["config"]!)
      let shape = c["input_shape"]!.array!.map { $0.int! }
      let model = try Sequential([InputLayer(shape: shape), layer])
      let prefix = "\(name)/weights/"
      if !layer.weightSpecs.isEmpty {
        try layer.setWeights(layer.weightSpecs.map { arrays[prefix + $0.name]! })
      }
      // DLP writes back Keras's config (initialisers aside: DLP writes GlorotUniform without
      // Keras 3.15's input_axes / output_axes).
      func comparable(_ o: [String: JSONValue]) -> String {
        JSONValue.object(
          o.filter { !["trainable", "dtype", "name"].contains($0.key) && !$0.key.hasSuffix("_initializer") }
        ).serialized()
      }
      XCTAssertEqual(comparable(layer.config()), comparable(c["config"]!.object!), name)
      let x = arrays["\(name)/x"]!
      let tolerance: Float = name.hasPrefix("rotation") ? 2e-5 : 1e-5
      XCTAssertLessThanOrEqual(
        maxRelativeDifference(try model.predict(x).scalars, arrays["\(name)/inference"]!.scalars), tolerance,
        "\(name) inference")
      guard c["training_calls"]!.int! > 0 else { continue }
      let e = GraphExecutor(model: model, capacity: x.shape[0])
      let data = try ArrayData(inputs: [x])
      Array(0..<x.shape[0]).withUnsafeBufferPointer { e.load(rows: $0, from: data, targets: false) }
      for step in 0..<2 {
        e.forward(batch: x.shape[0], training: true, trainStep: UInt64(step))
        let y = Array(UnsafeBufferPointer(start: e.output(node: 1), count: x.count))
        XCTAssertLessThanOrEqual(
          maxRelativeDifference(y, arrays["\(name)/training\(step)"]!.scalars), tolerance,
          "\(name) training call \(step)")
      }
      for (spec, w) in zip(layer.weightSpecs, layer.getWeights()) {
        XCTAssertLessThanOrEqual(
          maxRelativeDifference(w.scalars, arrays["\(name)/after/\(spec.name)"]!.scalars), 1e-6, "\(name) \(spec.name)")
      }
    }
  }
}
