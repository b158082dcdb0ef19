import Foundation

/// A model: a directed acyclic graph of layer applications from `inputs` to `outputs`
/// (Keras's functional Model; `Sequential` is the one-chain case). A model is also a layer:
/// called on symbolic tensors (or placed in a Sequential) inside another model, its nodes are
/// inlined into that model's graph (see `ModelCall`).
open class Model: Layer {
  public let inputs: [SymbolicTensor]
  public let outputs: [SymbolicTensor]
  /// Nodes in topological order (inputs first), nested models' nodes inlined.
  public let nodes: [Node]
  /// Distinct layers in the order they first appear, nested models' layers included (never a
  /// model itself: see `topLevelLayers` for Keras's `model.layers`).
  public let layers: [Layer]
  /// The flat weights and gradients of every layer (empty for a model built with
  /// `bindWeights: false`, whose layers get their weights from the model it is nested in).
  public let parameters: ParameterStore
  /// Set by `compile`.
  public internal(set) var compiled: CompiledSettings?
  /// Whether `toJSON` writes a Sequential (the book's models) or a functional Model.
  public var isSequential = false
  /// The models each layer is nested in (outermost first), from its first node.
  let enclosingModels: [ObjectIdentifier: [Model]]
  /// Keras's `stop_training`: a callback sets it to end `fit` after the current batch or epoch.
  public var stopTraining = false

  /// Builds the graph and initialises weights deterministically from `seed`.
  /// - Parameter bindWeights: false for a model that is only meant to be nested in another
  ///   (the Keras JSON reader's inner models): its layers' weights are laid out and
  ///   initialised by the outer model, in the outer model's layer order, as Keras draws them.
  public init(
    inputs: [SymbolicTensor], outputs: [SymbolicTensor], name: String? = nil, seed: UInt64 = 0,
    bindWeights: Bool = true
  ) throws {
    guard !inputs.isEmpty, !outputs.isEmpty else {
      throw DLPError.config("a model needs at least one input and one output")
    }
    for i in inputs where !(i.node.layer is InputLayer) {
      throw DLPError.config(
        "model inputs must come from Input(...); '\(i.node.layer.name)' is a \(i.node.layer.className)"
      )
    }
    let nodes = try GraphOrder.topological(outputs: outputs, inputs: inputs)
    var seen = Set<ObjectIdentifier>()
    var layers: [Layer] = []
    var enclosing: [ObjectIdentifier: [Model]] = [:]
    for n in nodes where seen.insert(ObjectIdentifier(n.layer)).inserted {
      layers.append(n.layer)
      enclosing[ObjectIdentifier(n.layer)] = n.calls.map(\.model)
    }
    // Keras wants unique names among the layers of each model; nested models' layers are
    // told apart by their path (`vgg16/block1_conv1`).
    let paths = layers.map { l in (enclosing[ObjectIdentifier(l)]!.map(\.name) + [l.name]).joined(separator: "/") }
    if let dup = Dictionary(grouping: paths, by: { $0 }).filter({ $0.value.count > 1 }).keys.sorted().first {
      throw DLPError.config(
        "two different layers are named '\(dup)'; layer names must be unique in a model")
    }
    for n in nodes where !(n.layer.readsInt32Input) {
      for i in n.inputs {
        guard let input = i.node.layer as? InputLayer, input.dtype == .int32 else { continue }
        throw DLPError.config(
          "input '\(input.name)' holds integer ids (dtype int32), which only a layer that reads ids (an Embedding) can take; '\(n.layer.name)' (\(n.layer.className)) takes float values. Use dtype float32 for it")
      }
    }
    self.inputs = inputs
    self.outputs = outputs
    self.nodes = nodes
    self.layers = layers
    self.enclosingModels = enclosing
    self.parameters = ParameterStore(count: bindWeights ? layers.reduce(0) { $0 + $1.parameterCount } : 0)
    super.init(name: name, defaultPrefix: "functional")
    try checkTopLevelNames()
    inputShapes = inputs.map(\.shape)
    outputShape = outputs[0].shape
    isBuilt = true
    if bindWeights { bindParameters(seed: seed) }
  }

  /// Keras's class name: `Sequential` or `Functional`.
  open override var className: String { isSequential ? "Sequential" : "Functional" }

  /// Setting it sets every layer's flag, nested models' included, as Keras's setter does.
  /// A layer is trained only when it and every model it is nested in are trainable.
  public override var trainable: Bool {
    didSet {
      for l in layers { l.trainable = trainable }
      for m in nestedModels where m.trainable != trainable { m.trainable = trainable }
    }
  }

  public convenience init(
    inputs: SymbolicTensor, outputs: SymbolicTensor, name: String? = nil, seed: UInt64 = 0
  ) throws {
    try self.init(inputs: [inputs], outputs: [outputs], name: name, seed: seed)
  }

  /// Lays every layer's weights out in the flat store. A layer that already has weights (from
  /// another model, or loaded) keeps its values; fresh ones are initialised from `seed`.
  private func bindParameters(seed: UInt64) {
    var offset = 0
    let seeds = KerasSeeding.seeds(for: layers, seed: seed)
    for (l, layer) in layers.enumerated() {
      layer.generatorSeeds = seeds[l].generators
      let old = layer.binding.map { b in (b, layer.getWeights()) }
      var offsets: [Int] = []
      for spec in layer.weightSpecs {
        offsets.append(offset)
        offset += spec.count
      }
      layer.binding = ParameterBinding(store: parameters, offsets: offsets)
      if let (_, values) = old, values.count == layer.weightSpecs.count {
        try? layer.setWeights(values)
      } else {
        initialize(layer, seeds: seeds[l].weights)
      }
    }
    updateTrainableRanges()
  }

  /// Initialises a layer's weights as Keras would from their default seeds (`KerasSeeding`),
  /// which depend on the seed and the layers before it only: the same model built twice, or on
  /// every worker, starts the same.
  func initialize(_ layer: Layer, seeds: [UInt32?]) {
    for (i, spec) in layer.weightSpecs.enumerated() {
      // No default seed: a constant, or an initialiser with its own seed.
      layer.fillWeight(i, .init(start: layer.weight(i), count: spec.count), kerasSeed: seeds[i] ?? 0)
    }
  }

  /// Re-initialises every weight from `seed`, as a fresh build with that seed would.
  public func reinitialize(seed: UInt64) {
    let seeds = KerasSeeding.seeds(for: layers, seed: seed)
    for (l, layer) in layers.enumerated() {
      layer.generatorSeeds = seeds[l].generators
      initialize(layer, seeds: seeds[l].weights)
    }
  }

  /// Every layer's seed-generator seeds, in layer order: what keys its training randomness
  /// (dropout masks), drawn when the model was built.
  public var layerGeneratorSeeds: [[UInt32]] {
    get { layers.map(\.generatorSeeds) }
  }

  /// Takes another copy's generator seeds (a worker's model built from the job's JSON gets the
  /// coordinator's, whatever seed each was built with).
  public func adoptGeneratorSeeds(_ seeds: [[UInt32]]) throws {
    guard seeds.count == layers.count else {
      throw DLPError.config("generator seeds for \(seeds.count) layers, the model has \(layers.count)")
    }
    for (l, s) in zip(layers, seeds) { l.generatorSeeds = s }
  }

  /// Whether the optimizer trains `layer`: its own flag and those of the models it is nested
  /// in (a frozen base keeps every layer frozen, as Keras's `trainable_weights` does).
  public func trains(_ layer: Layer) -> Bool {
    layer.trainable && (enclosingModels[ObjectIdentifier(layer)] ?? []).allSatisfy(\.trainable)
  }

  /// Recomputes which ranges the optimizer updates (trainable weights of trained layers; not
  /// BatchNormalization's moving statistics); call after changing `trainable`.
  public func updateTrainableRanges() {
    var ranges: [Range<Int>] = []
    for layer in layers where trains(layer) {
      for (i, spec) in layer.weightSpecs.enumerated() where spec.trainable && spec.count > 0 {
        let lo = layer.binding!.offsets[i]
        let r = lo..<(lo + spec.count)
        if let last = ranges.last, last.upperBound == r.lowerBound {
          ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
        } else {
          ranges.append(r)
        }
      }
    }
    parameters.trainableRanges = ranges
  }

  /// A layer (or nested model) by name: a top-level one, a path into nested models
  /// (`vgg16/block5_conv1`), or a nested layer whose name is unique in the model.
  public func layer(named name: String) throws -> Layer {
    if let l = topLevelLayers.first(where: { $0.name == name }) { return l }
    if let k = layers.indices.first(where: { layerPath(layers[$0]) == name }) { return layers[k] }
    let nested = layers.filter { $0.name == name } + nestedModels.filter { $0.name == name }
    if nested.count == 1 { return nested[0] }
    throw DLPError.config(
      nested.isEmpty
        ? "model '\(self.name)' has no layer named '\(name)'; it has \(topLevelLayers.map(\.name))"
        : "model '\(self.name)' has \(nested.count) nested layers named '\(name)'; give its path (\(nested.map(layerPath).joined(separator: ", ")))")
  }

  /// Every weight of every layer, nested models' included.
  public override var parameterCount: Int { layers.reduce(0) { $0 + $1.parameterCount } }
  /// Weights the optimizer updates (`trains`, trainable weights only).
  public var trainableParameterCount: Int {
    layers.reduce(0) { $0 + (trains($1) ? $1.trainableWeightCount : 0) }
  }

  /// A layer's name with the nested models it sits in: `dense`, `vgg16/block1_conv1`.
  public func layerPath(_ layer: Layer) -> String {
    ((enclosingModels[ObjectIdentifier(layer)] ?? []).map(\.name) + [layer.name]).joined(separator: "/")
  }

  /// Weights by name `LAYER/WEIGHT` (a nested layer's path: `vgg16/block1_conv1/kernel`), in
  /// layer order.
  public func namedWeights() -> [(name: String, value: Tensor)] {
    layers.flatMap { l in zip(l.weightSpecs, l.getWeights()).map { ("\(layerPath(l))/\($0.name)", $1) } }
  }

  /// Loads weights by `LAYER/WEIGHT` name; every weight of the model must be present with
  /// Keras's shape. A nested layer's weight may also be named as Keras's `variable.path`
  /// names a layer built with its model (`block1_conv1/kernel`), when that name is unique.
  public func loadNamedWeights(_ weights: [String: Tensor], source: String) throws {
    let nameCounts = Dictionary(grouping: layers, by: \.name).mapValues(\.count)
    for l in layers where !l.weightSpecs.isEmpty {
      var values: [Tensor] = []
      for spec in l.weightSpecs {
        let key = "\(layerPath(l))/\(spec.name)"
        let bare = "\(l.name)/\(spec.name)"
        guard let t = weights[key] ?? (nameCounts[l.name] == 1 ? weights[bare] : nil) else {
          throw DLPError.data(
            "\(source) has no weight '\(key)' (it has \(weights.keys.sorted().prefix(12).joined(separator: ", ")))"
          )
        }
        values.append(t)
      }
      try l.setWeights(values)
    }
  }

  /// Every weight in `namedWeights` order (Keras's `model.get_weights()`).
  public override func getWeights() -> [Tensor] { layers.flatMap { $0.getWeights() } }

  /// Sets every weight from a list in `getWeights` order.
  public override func setWeights(_ tensors: [Tensor]) throws {
    let expected = layers.reduce(0) { $0 + $1.weightSpecs.count }
    guard tensors.count == expected else {
      throw DLPError.shape("model '\(name)' has \(expected) weights, \(tensors.count) were given")
    }
    var k = 0
    for l in layers where !l.weightSpecs.isEmpty {
      try l.setWeights(Array(tensors[k..<(k + l.weightSpecs.count)]))
      k += l.weightSpecs.count
    }
  }
}

/// Topological ordering with the checks the functional API needs.
enum GraphOrder {
  static func topological(outputs: [SymbolicTensor], inputs: [SymbolicTensor]) throws -> [Node] {
    var order: [Node] = []
    var state: [ObjectIdentifier: Int] = [:]  // 1 = visiting, 2 = done
    let inputNodes = Set(inputs.map { ObjectIdentifier($0.node) })
    func visit(_ n: Node) throws {
      let id = ObjectIdentifier(n)
      if state[id] == 2 { return }
      if state[id] == 1 {
        throw DLPError.config("the model graph has a cycle through layer '\(n.layer.name)'")
      }
      state[id] = 1
      if n.layer is InputLayer && !inputNodes.contains(id) {
        throw DLPError.config(
          "the graph uses input '\(n.layer.name)', which is not among the model's inputs")
      }
      for i in n.inputs { try visit(i.node) }
      state[id] = 2
      order.append(n)
    }
    for o in outputs { try visit(o.node) }
    for i in inputs where state[ObjectIdentifier(i.node)] != 2 {
      throw DLPError.config("model input '\(i.node.layer.name)' is not connected to any output")
    }
    return order
  }
}
