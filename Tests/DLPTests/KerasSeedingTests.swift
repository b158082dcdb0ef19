import DLPTensor
import XCTest

@testable import DLP

/// DLP's seeds mean what `keras.utils.set_random_seed(seed)` means to Keras 3 on JAX. The
/// expected values were printed by Keras 3.15.1 with JAX 0.10.2 (and CPython's `random`,
/// NumPy's legacy `np.random`), e.g. for the model below:
///
///     keras.utils.set_random_seed(1)
///     m = keras.Sequential([keras.Input(shape=(784,)), keras.layers.Dense(512, activation="relu"),
///                           keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
///     hex(m.layers[0].kernel.numpy().ravel()[i].view(np.uint32))
///     np.random.seed(1); np.random.permutation(60000); np.random.permutation(60000)[:5]
final class KerasSeedingTests: XCTestCase {
  func testMersenneTwisterGivesTheReferenceOutputs() {
    var mt = MersenneTwister(seed: 5489)
    XCTAssertEqual(
      [mt.next32(), mt.next32(), mt.next32()], [3_499_211_612, 581_869_302, 3_890_346_734])
  }

  func testPythonRandomMatchesCPython() {
    var r = PythonRandom(seed: 1)
    XCTAssertEqual(
      [r.getrandbits(32), r.getrandbits(32), r.getrandbits(32)],
      [577_090_037, 2_444_712_010, 3_639_700_191])
    var seeded = PythonRandom(seed: 1)
    // Keras's make_default_seed() twice after random.seed(1).
    XCTAssertEqual(
      [seeded.randint(1, 1_000_000_000), seeded.randint(1, 1_000_000_000)],
      [144_272_510, 611_178_003])
    var big = PythonRandom(seed: 1 << 40 + 5)
    XCTAssertEqual(big.randint(1, 1_000_000_000), 541_574_218)
  }

  func testThreefryMatchesJAXRandomBits() {
    // jax.random.bits(jnp.array([1, 0], dtype="uint32"), (3,))
    let bits = (0..<3).map { Threefry.bits(key: (1, 0), counter: UInt64($0)) }
    XCTAssertEqual(bits, [0x22DE_807F, 0xAEC0_3C25, 0xCE52_EDE0])
  }

  func testVectorUnitsEqualTheScalarOnesAcrossAWrappingCounter() {
    var out = [Float](repeating: -1, count: 100)
    let start: UInt64 = (7 << 32) | 0xFFFF_FFD0  // the low word wraps 48 counters in
    out.withUnsafeMutableBufferPointer {
      Threefry.units(key: (3, 9), from: start, count: 100, into: $0.baseAddress!)
    }
    XCTAssertEqual(out, (0..<100).map { Threefry.unit(key: (3, 9), counter: start + UInt64($0)) })
  }

  func testNumpyPermutationWithAnArraySeed() {
    // np.random.seed([5, 1]); np.random.permutation(10)
    var rng = NumpyRandomState(seed64: 1 << 32 | 5)
    XCTAssertEqual(rng.shuffledIndices(10), [0, 7, 9, 4, 1, 6, 8, 2, 5, 3])
  }

  struct Expected {
    var seed: UInt64
    var firstKernel: [Int: UInt32]
    var secondKernel: [Int: UInt32]
    var sums: (Double, Double)
    /// np.random.permutation(60000) after the one fit draws for its peek at the data.
    var firstEpochStart: [Int]
    var firstEpochEnd: [Int]
  }

  static let expected: [Expected] = [
    Expected(
      seed: 1,
      firstKernel: [
        0: 0xBAE1_4386, 1: 0xBD19_DC05, 2: 0x3CA3_C1A0, 401_407: 0xBC1C_C039, 123_456: 0x3D7E_42C5,
      ],
      secondKernel: [0: 0xBBF8_6E5C, 1: 0x3D43_85FD, 5119: 0xBD1B_3FC6, 777: 0xBCEE_3DB2],
      sums: (24.641805029610524, 0.917491631120356),
      firstEpochStart: [56646, 4750, 35628, 41687, 40164], firstEpochEnd: [40202, 52331, 28245]),
    Expected(
      seed: 0,
      firstKernel: [
        0: 0x3CAF_3F1F, 1: 0x3CD6_811B, 2: 0xBD83_70D4, 401_407: 0x3D53_2686, 123_456: 0x3D19_8510,
      ],
      secondKernel: [0: 0x3D43_2A4B, 1: 0xBDB7_BE11, 5119: 0x3CA0_92E3, 777: 0x3D8B_60AF],
      sums: (18.549151249164993, -3.2436220035651786),
      firstEpochStart: [26730, 32284, 31744, 22016, 34180], firstEpochEnd: [57161, 11293, 30540]),
    Expected(
      seed: 1234,
      firstKernel: [
        0: 0x3D83_45C7, 1: 0xBD8A_2E14, 2: 0xBC82_F99A, 401_407: 0x3CF7_69A6, 123_456: 0xBD38_BB32,
      ],
      secondKernel: [0: 0xBDCA_62D5, 1: 0x3DC9_7FFC, 5119: 0xBD1C_2355, 777: 0xBDCB_EAA2],
      sums: (17.284784095434134, -0.8281082887770026),
      firstEpochStart: [18318, 45986, 8813, 18069, 8351], firstEpochEnd: [20664, 24492, 14404]),
  ]

  func testInitialWeightsAreKerasOnJAXBitForBit() throws {
    for e in Self.expected {
      let m = try Sequential(
        [
          InputLayer(shape: [784]), Dense(512, activation: .relu), Dropout(0.5),
          Dense(10, activation: .softmax),
        ],
        seed: e.seed)
      let layers = m.layers.filter { $0 is Dense }
      let k1 = layers[0].getWeights()[0]
      let k2 = layers[1].getWeights()[0]
      for (i, bits) in e.firstKernel {
        XCTAssertEqual(k1.scalars[i].bitPattern, bits, "seed \(e.seed), first kernel [\(i)]")
      }
      for (i, bits) in e.secondKernel {
        XCTAssertEqual(k2.scalars[i].bitPattern, bits, "seed \(e.seed), second kernel [\(i)]")
      }
      XCTAssertEqual(k1.scalars.reduce(0) { $0 + Double($1) }, e.sums.0, accuracy: 1e-6)
      XCTAssertEqual(k2.scalars.reduce(0) { $0 + Double($1) }, e.sums.1, accuracy: 1e-6)
      // Biases: Keras's zeros.
      XCTAssertTrue(layers[0].getWeights()[1].scalars.allSatisfy { $0 == 0 })
    }
  }

  func testTheBooksConvnetStartsFromKerassWeights() throws {
    // keras.utils.set_random_seed(0); Conv2D(32, 3) / MaxPooling2D(2) / Conv2D(64, 3) /
    // MaxPooling2D(2) / Conv2D(64, 3) / Flatten / Dense(64) / Dense(10) on (28, 28, 1): the
    // kernels in Keras's (kh, kw, in, out) layout, filled in C order.
    let m = try Sequential(
      [
        InputLayer(shape: [28, 28, 1]), Conv2D(32, kernelSize: 3, activation: .relu),
        MaxPooling2D(2),
        Conv2D(64, kernelSize: 3, activation: .relu), MaxPooling2D(2),
        Conv2D(64, kernelSize: 3, activation: .relu), Flatten(), Dense(64, activation: .relu),
        Dense(10, activation: .softmax),
      ], seed: 0)
    let kernels = m.layers.filter { !$0.weightSpecs.isEmpty }.map { $0.getWeights()[0] }
    XCTAssertEqual(kernels[0].shape, [3, 3, 1, 32])
    XCTAssertEqual(
      [0, 1, 287].map { kernels[0].scalars[$0].bitPattern },
      [0x3D37_0A00, 0x3D60_0ADE, 0xBDA3_9084])
    XCTAssertEqual(
      [0, 36863].map { kernels[2].scalars[$0].bitPattern }, [0x3D03_5FE6, 0x3D6C_3A89])
    XCTAssertEqual(
      [0, 1000, 36863].map { kernels[3].scalars[$0].bitPattern },
      [0x3D61_85DD, 0x3CBD_8082, 0xBD8C_E6DD])
  }

  /// `keras.utils.set_random_seed(1)`, then `Sequential([Input((5,)), Dense(8,
  /// kernel_initializer=GlorotUniform(seed=42)), Dense(3)])`, compiled; `to_json()` verbatim.
  static let explicitSeedModel = #"""
    {"module": "keras", "class_name": "Sequential", "config": {"name": "sequential", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "layers": [{"module": "keras.layers", "class_name": "InputLayer", "config": {"batch_shape": [null, 5], "dtype": "float32", "sparse": false, "ragged": false, "name": "input_layer", "optional": false}, "registered_name": null}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 8, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": 42, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "quantization_config": null}, "registered_name": null, "build_config": {"input_shape": [null, 5]}}, {"module": "keras.layers", "class_name": "Dense", "config": {"name": "dense_1", "trainable": true, "dtype": {"module": "keras", "class_name": "DTypePolicy", "config": {"name": "float32"}, "registered_name": null}, "units": 3, "activation": "linear", "use_bias": true, "kernel_initializer": {"module": "keras.initializers", "class_name": "GlorotUniform", "config": {"seed": null, "input_axes": null, "output_axes": null}, "registered_name": null}, "bias_initializer": {"module": "keras.initializers", "class_name": "Zeros", "config": {}, "registered_name": null}, "kernel_regularizer": null, "bias_regularizer": null, "kernel_constraint": null, "bias_constraint": null, "quantization_config": null}, "registered_name": null, "build_config": {"input_shape": [null, 8]}}], "build_input_shape": [null, 5]}, "registered_name": null, "build_config": {"input_shape": [null, 5]}, "compile_config": {"optimizer": {"module": "keras.optimizers", "class_name": "RMSprop", "config": {"name": "rm_sprop", "learning_rate": 0.0010000000474974513, "weight_decay": null, "clipnorm": null, "global_clipnorm": null, "clipvalue": null, "use_ema": false, "ema_momentum": 0.99, "ema_overwrite_frequency": null, "loss_scale_factor": null, "gradient_accumulation_steps": null, "rho": 0.9, "momentum": 0.0, "epsilon": 1e-07, "centered": false}, "registered_name": null}, "loss": "mse", "loss_weights": null, "metrics": null, "weighted_metrics": null, "run_eagerly": false, "steps_per_execution": 1, "jit_compile": true}}
    """#

  func testAnInitializerWithItsOwnSeedIsKerassAndDrawsNoDefault() throws {
    let (m, _) = try KerasModelReader.read(try JSONValue.parse(Self.explicitSeedModel), seed: 1)
    let dense = m.layers.filter { $0 is Dense }
    // The first kernel from the key [42, 0]; the second from the first default seed, which
    // the first layer did not take.
    XCTAssertEqual(
      dense[0].getWeights()[0].scalars.prefix(4).map(\.bitPattern),
      [0x3DB9_B005, 0xBF17_1E1B, 0xBE24_A25A, 0x3E93_74F7])
    XCTAssertEqual(
      dense[1].getWeights()[0].scalars.prefix(4).map(\.bitPattern),
      [0xBC98_D1AD, 0xBED0_C1B3, 0x3E5E_2F4D, 0x3F02_732A])
    // The seed survives a round trip through DLP's JSON; another model seed changes only the
    // layer without one.
    let (again, _) = try KerasModelReader.read(try JSONValue.parse(m.toJSON()), seed: 2)
    let d2 = again.layers.filter { $0 is Dense }
    XCTAssertEqual(d2[0].getWeights()[0].scalars, dense[0].getWeights()[0].scalars)
    XCTAssertNotEqual(d2[1].getWeights()[0].scalars, dense[1].getWeights()[0].scalars)
  }

  func testAnInitializerSeedThatIsNotAUInt32IsRefused() throws {
    let doc = Self.explicitSeedModel.replacingOccurrences(of: "\"seed\": 42", with: "\"seed\": -3")
    XCTAssertThrowsError(try KerasModelReader.read(try JSONValue.parse(doc))) { e in
      XCTAssertTrue("\(e)".contains("initializer seed -3"), "\(e)")
    }
  }

  /// keras.utils.set_random_seed(1); Sequential([Input((6,)), Dropout(0.5), Dense(1)]); fit on
  /// 10 rows of ones, batch 4, no shuffling: the masks Keras's Dropout drew at steps 0, 1, 2.
  static let kerasMasks: [[[Float]]] = [
    [[1, 1, 0, 0, 1, 0], [0, 0, 1, 1, 0, 1], [1, 1, 0, 1, 0, 1], [0, 1, 1, 1, 0, 1]],
    [[1, 0, 1, 0, 1, 0], [1, 1, 1, 0, 0, 1], [0, 0, 1, 0, 0, 1], [0, 0, 1, 0, 1, 1]],
    [[0, 0, 0, 1, 1, 1], [1, 1, 1, 0, 1, 1]],
  ]

  func testDropoutMasksAreKerassAndDoNotDependOnTheShard() throws {
    let m = try Sequential([InputLayer(shape: [6]), Dropout(0.5), Dense(1)], seed: 1)
    try m.compile(optimizer: "sgd", loss: "mse")
    let dropout = try XCTUnwrap(m.layers.first { $0 is Dropout })
    XCTAssertEqual(dropout.generatorSeeds, [144_272_510])
    let ex = GraphExecutor(model: m, capacity: 4)
    let ones = try ArrayData(x: Tensor(repeating: 1, shape: [4, 6]), y: Tensor(zeros: [4, 1]))
    func mask(step: UInt64, rows: Int, offset: Int = 0) -> [[Float]] {
      Array(0..<rows).withUnsafeBufferPointer { ex.load(rows: $0, from: ones, targets: true) }
      ex.forward(batch: rows, training: true, trainStep: step, rowOffset: offset)
      // Kept units are x / 0.5 = 2.
      return (0..<rows).map { r in (0..<6).map { ex.outputs[1][r * 6 + $0] / 2 } }
    }
    for (step, expected) in Self.kerasMasks.enumerated() {
      XCTAssertEqual(mask(step: UInt64(step), rows: expected.count), expected, "step \(step)")
    }
    // A worker holding rows 2 and 3 of step 1's batch draws those rows of the whole mask.
    XCTAssertEqual(mask(step: 1, rows: 2, offset: 2), Array(Self.kerasMasks[1][2...]))
    // Inference keeps every unit, unscaled.
    Array(0..<4).withUnsafeBufferPointer { ex.load(rows: $0, from: ones, targets: true) }
    ex.forward(batch: 4, training: false)
    XCTAssertTrue((0..<24).allSatisfy { ex.outputs[1][$0] == 1 })
  }

  func testDropoutWithASeedDrawsNoDefaultSeed() throws {
    // Without its default seed draw, the second Dense gets the draw Dropout would have had.
    let withSeed = try Sequential(
      [InputLayer(shape: [784]), Dense(512), Dropout(0.5, seed: 7), Dense(10)], seed: 1)
    let plain = try Sequential([InputLayer(shape: [784]), Dense(512), Dense(10)], seed: 1)
    let a = withSeed.layers.filter { $0 is Dense }[1].getWeights()[0].scalars
    let b = plain.layers.filter { $0 is Dense }[1].getWeights()[0].scalars
    XCTAssertEqual(a, b)
    let dropped = try Sequential(
      [InputLayer(shape: [784]), Dense(512), Dropout(0.5), Dense(10)], seed: 1)
    XCTAssertNotEqual(dropped.layers.filter { $0 is Dense }[1].getWeights()[0].scalars, b)
  }

  func testEpochOrdersAreKerasFitsPermutations() {
    for e in Self.expected {
      var orders = KerasEpochOrders(seed: e.seed, count: 60000)
      let first = orders.next()
      XCTAssertEqual(Array(first.prefix(5)), e.firstEpochStart, "seed \(e.seed)")
      XCTAssertEqual(Array(first.suffix(3)), e.firstEpochEnd, "seed \(e.seed)")
      XCTAssertEqual(Set(first).count, 60000)
      XCTAssertNotEqual(orders.next(), first)
    }
  }
}
