import Foundation

/// A weight a layer asks for in `build`: its name (`kernel`, `bias`), shape, initialiser and
/// optional regulariser.
public struct WeightSpec: Sendable {
  public var name: String
  public var shape: [Int]
  public var initializer: Initializer
  public var regularizer: Regularizer?
  /// False for state the layer updates itself rather than the optimizer (BatchNormalization's
  /// moving statistics, Keras's non-trainable weights): no gradient, no update, no penalty.
  public var trainable: Bool = true
  public var count: Int { shape.reduce(1, *) }
}

/// Sums per-replica values across the data-parallel replicas of one training step (each
/// holds a part of the global batch), bitwise identical on every replica. nil in-process.
public protocol ReplicaReduction: AnyObject {
  func sumAcrossReplicas(_ values: UnsafeMutableBufferPointer<Double>)
}

/// Where a training step's random numbers come from, as Keras 3 on JAX draws them: a layer's
/// seed generator (see `KerasSeeding`) gives the key [its seed, the calls it made before], one
/// call per application of the layer per training step, and row r of the GLOBAL batch takes the
/// counters r * width ..< (r + 1) * width under it. A worker passes the step and its shard's
/// first row, so the masks do not depend on how a batch is split.
public struct StepRandomness {
  /// Training steps before this one in this fit (Keras's seed generators count every one).
  public var trainStep: UInt64 = 0
  /// This batch's first row within the global batch.
  public var rowOffset: Int = 0
  /// Which application of its layer this node is, of how many per step.
  public var application: Int = 0
  public var applications: Int = 1

  public init(trainStep: UInt64 = 0, rowOffset: Int = 0) {
    self.trainStep = trainStep
    self.rowOffset = rowOffset
  }

  /// The key word a seed generator's counter gives this node at this step.
  public var counter: UInt32 {
    UInt32(truncatingIfNeeded: trainStep &* UInt64(applications) &+ UInt64(application))
  }
}

/// What a layer's forward sees: its inputs, its output buffer and its scratch, each `batch`
/// rows of the per-sample width.
public struct ForwardPass {
  public var inputs: [UnsafePointer<Float>]
  public var output: UnsafeMutablePointer<Float>
  public var scratch: [UnsafeMutablePointer<Float>]
  public var batch: Int
  public var training: Bool
  /// The loss applies this layer's activation itself (fused softmax/sigmoid + cross-entropy):
  /// the layer writes pre-activations and treats its output gradient as one of those.
  public var deferActivation: Bool
  public var randomness: StepRandomness
  /// The other replicas of this training step, for layers whose forward needs statistics of
  /// the global batch (BatchNormalization); nil in-process.
  public var replicas: ReplicaReduction? = nil
  /// Keras's `_keras_mask` of each input, (batch, mask width) of 1 (keep) or 0 (masked), nil
  /// where the input carries none; and where this layer writes the mask it produces (see
  /// `Layer.maskPropagation`).
  public var inputMasks: [UnsafePointer<Float>?] = []
  public var outputMask: UnsafeMutablePointer<Float>? = nil
}

/// What a layer's backward sees. `outputGrad` is this node's own buffer and may be overwritten.
/// `inputGrads[i]` is nil when nothing needs that gradient (model inputs, frozen branches);
/// layers *write* (not add) input gradients.
public struct BackwardPass {
  public var inputs: [UnsafePointer<Float>]
  public var output: UnsafePointer<Float>
  public var outputGrad: UnsafeMutablePointer<Float>
  public var inputGrads: [UnsafeMutablePointer<Float>?]
  public var scratch: [UnsafeMutablePointer<Float>]
  public var batch: Int
  public var deferActivation: Bool
  /// False for frozen layers: skip the weight gradients.
  public var computeWeightGrads: Bool
  /// True when a shared layer's earlier application already wrote its weight gradients.
  public var accumulateWeightGrads: Bool
  /// The other replicas of this training step (see `ForwardPass.replicas`); nil in-process.
  public var replicas: ReplicaReduction? = nil
  /// Whether the forward this backward follows ran in training mode (BatchNormalization
  /// differentiates its batch statistics then, its moving ones otherwise).
  public var training: Bool = true
  /// The masks the forward saw (`ForwardPass.inputMasks`).
  public var inputMasks: [UnsafePointer<Float>?] = []
}

/// The base of every layer: Keras's Layer. A subclass validates and stores its config in `init`,
/// declares weights in `build`, and implements `forward` and `backward` side by side.
open class Layer {
  public let name: String
  /// Frozen layers keep their weights: no gradients, skipped by the optimizer.
  public var trainable = true
  public internal(set) var isBuilt = false
  /// Per-sample input shapes (no batch axis), fixed on the first call.
  public internal(set) var inputShapes: [[Int]] = []
  public internal(set) var outputShape: [Int] = []
  public internal(set) var weightSpecs: [WeightSpec] = []
  /// Where this layer's weights live once a model has bound them.
  var binding: ParameterBinding? { didSet { bindingsChanged() } }
  /// The element type of each input, fixed on the first call (an Embedding reads integer ids).
  public internal(set) var inputDTypes: [InputLayer.DType] = []

  public init(name: String?, defaultPrefix: String) {
    self.name = name ?? LayerNames.unique(defaultPrefix)
  }

  /// Keras's `class_name`.
  open var className: String { String(describing: type(of: self)) }

  /// How many seed generators Keras's constructor of this layer makes without a seed, each
  /// drawing a default seed (see `KerasSeeding`): Dropout's, for one.
  open var kerasSeedGenerators: Int { 0 }

  /// Where Keras's weights files keep this layer's weights, relative to its group, and how many
  /// of `weightSpecs` (in order) each folder holds: `vars` for most layers; a recurrent layer's
  /// live in its cell (`cell/vars`), a Bidirectional's in its two layers' cells.
  open var kerasVariableGroups: [(path: String, count: Int)] { [("vars", weightSpecs.count)] }

  /// Whether the layer reads its input buffer as Int32 ids (an Embedding): only such layers may
  /// consume an `InputLayer` of dtype int32, whose buffer holds Int32 bit patterns.
  open var readsInt32Input: Bool { false }

  /// The seeds of this layer's seed generators, given by the model that binds it.
  public internal(set) var generatorSeeds: [UInt32] = [] { didSet { bindingsChanged() } }

  /// The per-sample output shape for these per-sample input shapes; throws on a mismatch.
  open func computeOutputShape(_ inputShapes: [[Int]]) throws -> [Int] {
    try requireSingleInput(inputShapes)
    return inputShapes[0]
  }

  /// Declares weights (`addWeight`) for these input shapes. Called once.
  open func build(_ inputShapes: [[Int]]) throws {}

  /// Per-sample widths of scratch buffers the layer keeps between forward and backward.
  open func scratchWidths() -> [Int] { [] }

  open func forward(_ pass: ForwardPass) {}

  open func backward(_ pass: BackwardPass) {}

  /// Keras's `get_config()` without the base keys (`name`, `trainable`, `dtype`), which the
  /// serializer adds.
  open func config() -> [String: JSONValue] { [:] }

  // MARK: masks, seeds and sublayers (sequence models)

  /// What this layer does with Keras's `_keras_mask` (`MaskPropagation`); `inputMasked[i]`
  /// says whether input i carries one. Keras drops the mask at layers that do not support
  /// masking, which is the default here.
  open func maskPropagation(inputMasked: [Bool]) -> MaskPropagation { .none }

  /// The default seeds Keras's constructor draws for this layer, in its order (`KerasSeeding`):
  /// by default one per weight whose initialiser draws one, then one per seed generator.
  open var kerasSeedDraws: [KerasSeedDraw] {
    weightSpecs.indices.filter { weightSpecs[$0].initializer.drawsKerasSeed }.map { .weight($0) }
      + (0..<kerasSeedGenerators).map { .generator($0) }
  }

  /// Fills weight `i` as Keras initialises it from its default seed `kerasSeed`. A layer whose
  /// weight Keras builds from several initialisers (LSTM's unit_forget_bias) overrides this.
  open func fillWeight(_ i: Int, _ buffer: UnsafeMutableBufferPointer<Float>, kerasSeed: UInt32) {
    weightSpecs[i].initializer.fill(buffer, shape: weightSpecs[i].shape, kerasSeed: kerasSeed)
  }

  /// Called when the model binds this layer's weights or gives it its generator seeds: a layer
  /// that runs inner layers (Bidirectional) hands them their share.
  open func bindingsChanged() {}

  /// The regularisation penalty this layer adds, and its gradient added into `grads`.
  /// Weights without a regulariser cost nothing.
  public final func addWeight(
    _ name: String, shape: [Int], initializer: Initializer, regularizer: Regularizer? = nil,
    trainable: Bool = true
  ) {
    weightSpecs.append(
      WeightSpec(
        name: name, shape: shape, initializer: initializer, regularizer: regularizer,
        trainable: trainable))
  }

  /// Builds the layer for these input shapes if not built yet; checks shapes on later calls.
  public final func ensureBuilt(_ shapes: [[Int]]) throws -> [Int] {
    if isBuilt {
      guard shapes == inputShapes else {
        throw DLPError.shape(
          "layer '\(name)' was built for input shape \(describeShapes(inputShapes)) and cannot take \(describeShapes(shapes))"
        )
      }
      return outputShape
    }
    for (i, s) in shapes.enumerated() { try ShapeLimits.check(s, "input \(i) of layer '\(name)' (\(className))") }
    let out = try computeOutputShape(shapes)
    try build(shapes)
    do { try ShapeLimits.checkBuild(of: self, output: out) } catch { weightSpecs = []; throw error }
    inputShapes = shapes
    outputShape = out
    isBuilt = true
    return out
  }

  // MARK: weights

  /// Pointer to weight `i` in the bound parameter store.
  @inline(__always) public final func weight(_ i: Int) -> UnsafeMutablePointer<Float> {
    binding!.store.values + binding!.offsets[i]
  }

  /// Pointer to the gradient of weight `i` in the bound parameter store.
  @inline(__always) public final func weightGrad(_ i: Int) -> UnsafeMutablePointer<Float> {
    binding!.store.grads + binding!.offsets[i]
  }

  /// The layer's weights as tensors, in Keras's order and shapes.
  public func getWeights() -> [Tensor] {
    guard let b = binding else { return [] }
    return weightSpecs.enumerated().map { i, spec in
      Tensor(
        uncheckedShape: spec.shape,
        scalars: Array(UnsafeBufferPointer(start: b.store.values + b.offsets[i], count: spec.count))
      )
    }
  }

  /// Replaces the layer's weights; shapes must match Keras's.
  public func setWeights(_ tensors: [Tensor]) throws {
    guard let b = binding else {
      throw DLPError.config("layer '\(name)' has no weights yet: build its model first")
    }
    guard tensors.count == weightSpecs.count else {
      throw DLPError.shape(
        "layer '\(name)' has \(weightSpecs.count) weights, \(tensors.count) were given")
    }
    for (i, (t, spec)) in zip(tensors, weightSpecs).enumerated() {
      guard t.shape == spec.shape else {
        throw DLPError.shape(
          "weight '\(name)/\(spec.name)' has shape \(spec.shape), the value given has \(t.shape)")
      }
      t.scalars.withUnsafeBufferPointer {
        (b.store.values + b.offsets[i]).update(from: $0.baseAddress!, count: spec.count)
      }
    }
  }

  public var parameterCount: Int { weightSpecs.reduce(0) { $0 + $1.count } }

  /// Values the optimizer may update when the layer is trainable (its trainable weights).
  public var trainableWeightCount: Int { weightSpecs.reduce(0) { $0 + ($1.trainable ? $1.count : 0) } }

  final func requireSingleInput(_ shapes: [[Int]]) throws {
    guard shapes.count == 1 else {
      throw DLPError.shape("layer '\(name)' (\(className)) takes one input, got \(shapes.count)")
    }
  }
}

extension Layer {
  /// Calls the layer on a symbolic tensor (functional API): `let y = try Dense(32)(x)`.
  public func callAsFunction(_ input: SymbolicTensor) throws -> SymbolicTensor {
    try callAsFunction([input])
  }

  public func callAsFunction(_ inputs: [SymbolicTensor]) throws -> SymbolicTensor {
    // A model called as a layer is inlined: its nodes join the caller's graph (Model+Nesting).
    if let model = self as? Model { return try model.callSingleOutput(inputs) }
    do {
      if !isBuilt { inputDTypes = inputs.map(\.dtype) }
      let out = try ensureBuilt(inputs.map(\.shape))
      return SymbolicTensor(node: Node(layer: self, inputs: inputs), shape: out)
    } catch DLPError.shape(let message) where inputs.count > 1 {
      // A merge names its inputs only by position; say which layers produced them, so a
      // mismatch in a large graph (or a Keras JSON) can be traced to its branches.
      let sources = inputs.enumerated().map { i, t in
        "input \(i) \(describeShapes([t.shape])) from layer '\(t.node.layer.name)'"
      }
      throw DLPError.shape(message + " (" + sources.joined(separator: ", ") + ")")
    }
  }
}

func describeShapes(_ shapes: [[Int]]) -> String {
  let parts = shapes.map { "(None, " + $0.map(String.init).joined(separator: ", ") + ")" }
  return parts.count == 1 ? parts[0] : "[" + parts.joined(separator: ", ") + "]"
}

/// Keras-style unique default names: dense, dense_1, dense_2, ...
enum LayerNames {
  private static let lock = NSLock()
  nonisolated(unsafe) private static var counters: [String: Int] = [:]

  static func unique(_ prefix: String) -> String {
    lock.lock()
    defer { lock.unlock() }
    let n = counters[prefix, default: 0]
    counters[prefix] = n + 1
    return n == 0 ? prefix : "\(prefix)_\(n)"
  }
}

/// A layer that ends in an element-wise activation. When it produces a model output whose loss
/// can fuse that activation (softmax / sigmoid with cross-entropy), the executor sets
/// `deferActivation` and the layer must then skip the activation in forward and treat its
/// output gradient as the gradient of the pre-activation in backward.
public protocol ActivatedLayer: Layer {
  var activation: Activation { get }
}
