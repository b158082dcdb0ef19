import XCTest

@testable import DLP

/// Conv2D and the pooling layers: forward values against naive loops written from the
/// definitions, and backward against finite differences.
final class ConvLayerTests: XCTestCase {
  // MARK: naive references (one output value at a time, padding by bounds checks)

  /// TF/Keras arithmetic, written out independently of Window2D.
  func samePad(_ size: Int, _ k: Int, _ s: Int) -> (out: Int, before: Int) {
    let out = Int((Double(size) / Double(s)).rounded(.up))
    return (out, max((out - 1) * s + k - size, 0) / 2)
  }

  func geometry(_ size: Int, _ k: Int, _ s: Int, _ padding: Padding) -> (out: Int, before: Int) {
    padding == .same ? samePad(size, k, s) : ((size - k) / s + 1, 0)
  }

  /// x (n, h, w, c), kernel (kh, kw, c, f), bias (f) -> (n, oh, ow, f).
  func naiveConv(
    _ x: Tensor, _ kernel: Tensor, _ bias: Tensor?, strides: (Int, Int), padding: Padding
  ) -> Tensor {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let (kh, kw, f) = (kernel.shape[0], kernel.shape[1], kernel.shape[3])
    let gh = geometry(h, kh, strides.0, padding)
    let gw = geometry(w, kw, strides.1, padding)
    var out = [Float](repeating: 0, count: n * gh.out * gw.out * f)
    for b in 0..<n {
      for oh in 0..<gh.out {
        for ow in 0..<gw.out {
          for o in 0..<f {
            var sum: Float = bias?.scalars[o] ?? 0
            for i in 0..<kh {
              for j in 0..<kw {
                let ih = oh * strides.0 - gh.before + i
                let iw = ow * strides.1 - gw.before + j
                guard ih >= 0, ih < h, iw >= 0, iw < w else { continue }
                for ch in 0..<c {
                  sum +=
                    x.scalars[((b * h + ih) * w + iw) * c + ch]
                    * kernel.scalars[((i * kw + j) * c + ch) * f + o]
                }
              }
            }
            out[((b * gh.out + oh) * gw.out + ow) * f + o] = sum
          }
        }
      }
    }
    return Tensor(uncheckedShape: [n, gh.out, gw.out, f], scalars: out)
  }

  /// Max or mean over the input positions of each window (padding excluded).
  func naivePool(
    _ x: Tensor, pool: (Int, Int), strides: (Int, Int), padding: Padding, max useMax: Bool
  ) -> Tensor {
    let (n, h, w, c) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3])
    let gh = geometry(h, pool.0, strides.0, padding)
    let gw = geometry(w, pool.1, strides.1, padding)
    var out: [Float] = []
    for b in 0..<n {
      for oh in 0..<gh.out {
        for ow in 0..<gw.out {
          for ch in 0..<c {
            var values: [Float] = []
            for i in 0..<pool.0 {
              for j in 0..<pool.1 {
                let ih = oh * strides.0 - gh.before + i
                let iw = ow * strides.1 - gw.before + j
                if ih >= 0, ih < h, iw >= 0, iw < w {
                  values.append(x.scalars[((b * h + ih) * w + iw) * c + ch])
                }
              }
            }
            out.append(useMax ? values.max()! : values.reduce(0, +) / Float(values.count))
          }
        }
      }
    }
    return Tensor(uncheckedShape: [n, gh.out, gw.out, c], scalars: out)
  }

  func assertClose(
    _ a: Tensor, _ b: Tensor, tolerance: Float = 1e-5, _ what: String,
    file: StaticString = #filePath, line: UInt = #line
  ) {
    XCTAssertEqual(a.shape, b.shape, what, file: file, line: line)
    guard a.shape == b.shape else { return }
    let worst = zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
    XCTAssertLessThanOrEqual(
      worst, tolerance, "\(what): largest difference \(worst)", file: file, line: line)
  }

  func predict(_ layer: Layer, input: [Int], x: Tensor) throws -> Tensor {
    let model = try Sequential([InputLayer(shape: input), layer], seed: 5)
    return try model.predict(x, batchSize: 2)
  }

  // MARK: forward values

  func testConv2DForwardMatchesNaiveLoops() throws {
    let input = [6, 7, 3]
    let x = testTensor([3] + input, seed: 1)
    for padding in Padding.allCases {
      for (kernel, strides) in [
        ([3, 3], [1, 1]), ([2, 3], [1, 2]), ([3, 2], [2, 2]), ([1, 1], [1, 1]), ([1, 1], [2, 1]),
      ] {
        for (useBias, filters) in [(true, 4), (false, 4), (true, 11)] {
          let conv = try Conv2D(
            filters, kernelSize: kernel, strides: strides, padding: padding, useBias: useBias,
            biasInitializer: .randomUniform(min: -1, max: 1))
          let y = try predict(conv, input: input, x: x)
          let w = conv.getWeights()
          let expected = naiveConv(
            x, w[0], useBias ? w[1] : nil, strides: (strides[0], strides[1]), padding: padding)
          assertClose(
            y, expected, "Conv2D kernel \(kernel) strides \(strides) \(padding) bias \(useBias)")
        }
      }
    }
  }

  func testConv2DSamePaddingIsAsymmetricLikeTensorFlow() throws {
    // Height 12, kernel 3, stride 2: out 6, pad_total 1, all of it after (pad_before 0).
    let conv = try Conv2D(1, kernelSize: [3, 3], strides: [2, 2], padding: .same)
    _ = try Sequential([InputLayer(shape: [12, 11, 2]), conv])
    XCTAssertEqual(conv.outputShape, [6, 6, 1])
    XCTAssertEqual(conv.window?.padTop, 0)
    XCTAssertEqual(conv.window?.padLeft, 1)  // width 11: pad_total 2, one on each side
    // Kernel 4, stride 1: pad_total 3, one before and two after.
    let even = try Conv2D(1, kernelSize: 4, padding: .same)
    _ = try Sequential([InputLayer(shape: [5, 5, 1]), even])
    XCTAssertEqual(even.window?.padTop, 1)
    XCTAssertEqual(even.outputShape, [5, 5, 1])
  }

  func testConv2DActivationIsApplied() throws {
    let x = testTensor([2, 5, 5, 2], seed: 4)
    let conv = try Conv2D(3, kernelSize: 3, padding: .same, activation: .relu)
    let y = try predict(conv, input: [5, 5, 2], x: x)
    let w = conv.getWeights()
    let z = naiveConv(x, w[0], w[1], strides: (1, 1), padding: .same)
    assertClose(
      y, Tensor(uncheckedShape: z.shape, scalars: z.scalars.map { max($0, 0) }), "relu(conv)")
  }

  func testPoolingForwardMatchesNaiveLoops() throws {
    // 3 channels take the scalar path, 19 the SIMD one plus a scalar tail.
    for channels in [3, 19] {
      try checkPoolingForward(input: [7, 6, channels])
    }
  }

  func checkPoolingForward(input: [Int]) throws {
    let x = testTensor([3] + input, seed: 2)
    let cases: [([Int], [Int]?)] = [
      ([2, 2], nil), ([3, 3], [2, 2]), ([2, 3], [1, 2]), ([3, 2], [3, 1]),
    ]
    for padding in Padding.allCases {
      for (pool, strides) in cases {
        let s = strides ?? pool
        let maxY = try predict(
          MaxPooling2D(poolSize: pool, strides: strides, padding: padding), input: input, x: x)
        assertClose(
          maxY,
          naivePool(
            x, pool: (pool[0], pool[1]), strides: (s[0], s[1]), padding: padding, max: true),
          "max \(pool) \(s) \(padding)")
        let avgY = try predict(
          AveragePooling2D(poolSize: pool, strides: strides, padding: padding), input: input, x: x)
        assertClose(
          avgY,
          naivePool(
            x, pool: (pool[0], pool[1]), strides: (s[0], s[1]), padding: padding, max: false),
          "average \(pool) \(s) \(padding)")
      }
    }
  }

  func testGlobalPoolingForward() throws {
    let x = testTensor([2, 3, 4, 5], seed: 3)
    let avg = try predict(GlobalAveragePooling2D(), input: [3, 4, 5], x: x)
    let mx = try predict(GlobalMaxPooling2D(keepdims: true), input: [3, 4, 5], x: x)
    XCTAssertEqual(avg.shape, [2, 5])
    XCTAssertEqual(mx.shape, [2, 1, 1, 5])
    assertClose(
      avg,
      try naivePool(x, pool: (3, 4), strides: (3, 4), padding: .valid, max: false).reshaped(to: [
        2, 5,
      ]), "global average")
    assertClose(
      mx, naivePool(x, pool: (3, 4), strides: (3, 4), padding: .valid, max: true), "global max")
  }

  func testPoolingDefaultsAndShapes() throws {
    let p = try MaxPooling2D(2)
    XCTAssertEqual(p.strides.0, 2)
    XCTAssertEqual(p.strides.1, 2)
    _ = try Sequential([InputLayer(shape: [5, 5, 3]), p])
    XCTAssertEqual(p.outputShape, [2, 2, 3])
    let same = try AveragePooling2D(2, padding: .same)
    _ = try Sequential([InputLayer(shape: [5, 5, 3]), same])
    XCTAssertEqual(same.outputShape, [3, 3, 3])
  }

  // MARK: gradients

  func check(
    _ layers: [Layer], input: [Int], outputs: Int = 3, batch: Int = 3, epsilon: Float = 1e-2,
    tolerance: Float = 2e-2,
    file: StaticString = #filePath, line: UInt = #line
  ) throws {
    let model = try Sequential(
      [InputLayer(shape: input)] + layers + [Flatten(), Dense(outputs)], seed: 3)
    try model.compile(optimizer: SGD(), losses: [MeanSquaredError()])
    let data = try ArrayData(
      x: testTensor([batch] + input, seed: 11), y: testTensor([batch, outputs], seed: 12))
    var checker = GradientChecker(model: model, data: data)
    checker.epsilon = epsilon
    checker.tolerance = tolerance
    checker.run(file: file, line: line)
  }

  func testConv2DGradients() throws {
    for padding in Padding.allCases {
      for strides in [1, 2] {
        for useBias in [true, false] {
          try check(
            [
              Conv2D(
                3, kernelSize: [3, 3], strides: [strides, strides], padding: padding,
                activation: .tanh, useBias: useBias)
            ],
            input: [5, 5, 2])
        }
      }
    }
  }

  func testConv2DGradientsNonSquareAndStacked() throws {
    // Two convolutions: the first one's input gradient (col2im) feeds the checker's input check,
    // the second one's flows into the first.
    try check(
      [
        Conv2D(3, kernelSize: [2, 3], strides: [1, 2], padding: .same, activation: .tanh),
        Conv2D(2, kernelSize: [3, 2], strides: [2, 1], padding: .valid, activation: .sigmoid),
      ], input: [6, 5, 2])
    // A 1x1 convolution takes the pointwise path (no im2col).
    try check(
      [
        Conv2D(3, kernelSize: [1, 1], activation: .tanh),
        Conv2D(2, kernelSize: [1, 1], strides: [2, 2]),
      ], input: [4, 3, 2])
  }

  func testConv2DReLUGradients() throws {
    // Finite differences trip over ReLU's kink, so compare the fused ReLU backward (SIMD and
    // scalar lanes with 11 filters, bias sums) with a linear Conv2D followed by a separate
    // ReLU layer: the same function, so the same gradients.
    for useBias in [true, false] {
      let x = testTensor([3, 5, 5, 2], seed: 11)
      let y = testTensor([3, 3], seed: 12)
      func gradients(_ layers: [Layer]) throws -> (weights: [Float], input: [Float]) {
        let model = try Sequential(
          [InputLayer(shape: [5, 5, 2])] + layers + [Flatten(name: "f"), Dense(3, name: "d")],
          seed: 3)
        try model.compile(optimizer: SGD(), losses: [MeanSquaredError()])
        try model.layer(named: "c").setWeights(
          [testTensor([3, 3, 2, 11], seed: 1, scale: 0.5)]
            + (useBias ? [testTensor([11], seed: 2, scale: 0.2)] : []))
        try model.layer(named: "d").setWeights([
          testTensor([275, 3], seed: 3, scale: 0.1), testTensor([3], seed: 4),
        ])
        let data = try ArrayData(x: x, y: y)
        let ex = GraphExecutor(model: model, capacity: 3, inputGradients: true)
        let rows = [0, 1, 2]
        rows.withUnsafeBufferPointer { ex.load(rows: $0, from: data, targets: true) }
        var stats = [Double](repeating: 0, count: model.compiled!.layout.size)
        ex.forward(batch: 3, training: true)
        stats.withUnsafeMutableBufferPointer {
          ex.loss(batch: 3, stats: $0.baseAddress!, gradScale: 1 / 3)
        }
        ex.backward(batch: 3)
        return (
          Array(model.parameters.gradBuffer),
          Array(UnsafeBufferPointer(start: ex.gradient(node: 0), count: x.scalars.count))
        )
      }
      let fused = try gradients([
        Conv2D(
          11, kernelSize: [3, 3], padding: .same, activation: .relu, useBias: useBias, name: "c")
      ])
      let split = try gradients([
        Conv2D(11, kernelSize: [3, 3], padding: .same, useBias: useBias, name: "c"),
        ActivationLayer(.relu),
      ])
      XCTAssertEqual(fused.weights.count, split.weights.count)
      for (a, b) in zip(fused.weights, split.weights) { XCTAssertEqual(a, b, accuracy: 1e-5) }
      for (a, b) in zip(fused.input, split.input) { XCTAssertEqual(a, b, accuracy: 1e-5) }
      XCTAssertGreaterThan(fused.weights.filter { $0 != 0 }.count, fused.weights.count / 2)
    }
  }

  func testConv2DWithRegularizers() throws {
    try check(
      [
        Conv2D(
          2, kernelSize: [3, 3], activation: .tanh, kernelRegularizer: .l2(0.05),
          biasRegularizer: .l1(0.02))
      ], input: [4, 4, 2])
  }

  func testPoolingGradients() throws {
    for padding in Padding.allCases {
      for strides in [1, 2] {
        // Overlapping windows when strides < pool: gradients add up.
        try check(
          [MaxPooling2D(poolSize: [3, 3], strides: [strides, strides], padding: padding)],
          input: [5, 5, 2], epsilon: 1e-3)
        try check(
          [AveragePooling2D(poolSize: [3, 3], strides: [strides, strides], padding: padding)],
          input: [5, 5, 2])
      }
    }
    // Tiling windows (strides = pool, 'valid') take a one-pass backward; odd sizes leave a
    // row and a column no window covers; 9 channels use both the SIMD and the scalar lanes.
    for channels in [2, 9] {
      try check([MaxPooling2D(2)], input: [5, 7, channels], epsilon: 1e-3)
      try check([MaxPooling2D(poolSize: [2, 3])], input: [4, 7, channels], epsilon: 1e-3)
    }
    try check([GlobalAveragePooling2D()], input: [3, 4, 2])
    try check([GlobalMaxPooling2D()], input: [3, 4, 2], epsilon: 1e-3)
    try check([GlobalMaxPooling2D(keepdims: true)], input: [3, 4, 2], epsilon: 1e-3)
  }

  func testConvPoolStackGradients() throws {
    try check(
      [
        Conv2D(3, kernelSize: 3, padding: .same, activation: .tanh),
        MaxPooling2D(2, padding: .same),
        Conv2D(2, kernelSize: 2, activation: .tanh), AveragePooling2D(2, strides: 1),
      ], input: [6, 6, 1], epsilon: 3e-3)
  }

  func testReshapeGradients() throws {
    try check([Reshape([5, -1]), Dense(3, activation: .tanh)], input: [5, 2, 2])
  }

  func testElementwiseKernelsOverManyRows() throws {
    // Enough rows to split across threads: chunks' column sums must add up.
    BLAS.setThreads(2)
    let (rows, width) = (1000, 19)
    let y = testTensor([rows * width], seed: 1).scalars
    let g = testTensor([rows * width], seed: 2).scalars
    var grad = g
    var sums = [Float](repeating: 1, count: width)
    y.withUnsafeBufferPointer { yp in
      grad.withUnsafeMutableBufferPointer { gp in
        Elementwise.reluBackward(
          output: yp.baseAddress!, grad: gp.baseAddress!, rows: rows, width: width,
          columnSums: &sums, accumulate: true)
      }
    }
    let masked = zip(y, g).map { $0 > 0 ? $1 : 0 }
    XCTAssertEqual(grad, masked)
    for j in 0..<width {
      let expected =
        1 + stride(from: j, to: rows * width, by: width).reduce(Float(0)) { $0 + masked[$1] }
      XCTAssertEqual(sums[j], expected, accuracy: 1e-3)
    }
    var plain = [Float](repeating: 5, count: width)
    g.withUnsafeBufferPointer {
      Elementwise.columnSums(
        $0.baseAddress!, rows: rows, width: width, into: &plain, accumulate: false)
    }
    for j in 0..<width {
      XCTAssertEqual(
        plain[j], stride(from: j, to: rows * width, by: width).reduce(Float(0)) { $0 + g[$1] },
        accuracy: 1e-3)
    }
  }

  // MARK: errors

  func testKernelLargerThanInputIsAnError() throws {
    XCTAssertThrowsError(
      try Sequential([InputLayer(shape: [3, 4, 1]), Conv2D(2, kernelSize: 5, name: "big")])
    ) { e in
      let m = "\(e)"
      XCTAssertTrue(m.contains("'big'") && m.contains("larger than the input"), m)
    }
    XCTAssertThrowsError(try Sequential([InputLayer(shape: [2, 2, 1]), MaxPooling2D(3)]))
    // With 'same' padding a large kernel is fine.
    XCTAssertNoThrow(
      try Sequential([InputLayer(shape: [3, 4, 1]), Conv2D(2, kernelSize: 5, padding: .same)]))
  }

  func testInvalidConfigurationsAreErrors() throws {
    XCTAssertThrowsError(try Conv2D(0, kernelSize: 3))
    XCTAssertThrowsError(try Conv2D(2, kernelSize: [3, 3], dilationRate: [2, 2])) { e in
      XCTAssertTrue("\(e)".contains("dilation_rate"), "\(e)")
    }
    XCTAssertThrowsError(try Conv2D(2, kernelSize: [3, 0])) { e in
      XCTAssertTrue("\(e)".contains("kernel_size"), "\(e)")
    }
    XCTAssertThrowsError(try MaxPooling2D(poolSize: [2, 2, 2]))
    XCTAssertThrowsError(try Reshape([-1, -1]))
    XCTAssertThrowsError(try Sequential([InputLayer(shape: [10]), Reshape([3, -1], name: "r")])) {
      e in
      XCTAssertTrue("\(e)".contains("'r'") && "\(e)".contains("10 values"), "\(e)")
    }
    XCTAssertThrowsError(
      try Sequential([InputLayer(shape: [10]), Conv2D(2, kernelSize: 3, name: "c")])
    ) { e in
      XCTAssertTrue("\(e)".contains("(None, height, width, channels)"), "\(e)")
    }
    XCTAssertThrowsError(try Sequential([InputLayer(shape: [4, 4]), GlobalMaxPooling2D()]))
  }
}
