import Foundation

/// A model: a directed acyclic graph of layer applications from `inputs` to `outputs`
/// (Keras's functional Model; `Sequential` is the one-chain case).
open class Model {
  public let name: String
  public let inputs: [SymbolicTensor]
  public let outputs: [SymbolicTensor]
  /// Nodes in topological order (inputs first).
  public let nodes: [Node]
  /// Distinct layers in the order they first appear.
  public let layers: [Layer]
  /// The flat weights and gradients of every layer.
  public let parameters: ParameterStore
  /// Set by `compile`.
  public internal(set) var compiled: CompiledSettings?
  /// Whether `toJSON` writes a Sequential (the book's models) or a functional Model.
  public var isSequential = false

  /// Builds the graph and initialises weights deterministically from `seed`.
  public init(
    inputs: [SymbolicTensor], outputs: [SymbolicTensor], name: String? = nil, seed: UInt64 = 0
  ) throws {
    guard !inputs.isEmpty, !outputs.isEmpty else {
      throw DLPError.config("a model needs at least one input and one output")
    }
    for i in inputs where !(i.node.layer is InputLayer) {
      throw DLPError.config(
        "model inputs must come from Input(...); '\(i.node.layer.name)' is a \(i.node.layer.className)"
      )
    }
    self.name = name ?? LayerNames.unique("functional")
    self.inputs = inputs
    self.outputs = outputs
    self.nodes = try GraphOrder.topological(outputs: outputs, inputs: inputs)
    var seen = Set<ObjectIdentifier>()
    var layers: [Layer] = []
    for n in nodes where seen.insert(ObjectIdentifier(n.layer)).inserted { layers.append(n.layer) }
    let names = Dictionary(grouping: layers, by: \.name).filter { $0.value.count > 1 }
    if let dup = names.keys.sorted().first {
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
    self.layers = layers
    self.parameters = ParameterStore(count: layers.reduce(0) { $0 + $1.parameterCount })
    bindParameters(seed: seed)
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
  public var generatorSeeds: [[UInt32]] {
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

  /// Recomputes which ranges the optimizer updates; call after changing `trainable`.
  public func updateTrainableRanges() {
    var ranges: [Range<Int>] = []
    for layer in layers where layer.trainable && layer.parameterCount > 0 {
      let lo = layer.binding!.offsets[0]
      let r = lo..<(lo + layer.parameterCount)
      if let last = ranges.last, last.upperBound == r.lowerBound {
        ranges[ranges.count - 1] = last.lowerBound..<r.upperBound
      } else {
        ranges.append(r)
      }
    }
    parameters.trainableRanges = ranges
  }

  public func layer(named name: String) throws -> Layer {
    guard let l = layers.first(where: { $0.name == name }) else {
      throw DLPError.config(
        "model '\(self.name)' has no layer named '\(name)'; it has \(layers.map(\.name))")
    }
    return l
  }

  public var parameterCount: Int { parameters.count }
  public var trainableParameterCount: Int { parameters.trainableRanges.reduce(0) { $0 + $1.count } }

  /// Weights by Keras name `LAYER/WEIGHT`, in layer order.
  public func namedWeights() -> [(name: String, value: Tensor)] {
    layers.flatMap { l in zip(l.weightSpecs, l.getWeights()).map { ("\(l.name)/\($0.name)", $1) } }
  }

  /// Loads weights by `LAYER/WEIGHT` name; every weight of the model must be present with
  /// Keras's shape.
  public func loadNamedWeights(_ weights: [String: Tensor], source: String) throws {
    for l in layers where !l.weightSpecs.isEmpty {
      var values: [Tensor] = []
      for spec in l.weightSpecs {
        let key = "\(l.name)/\(spec.name)"
        guard let t = weights[key] else {
          throw DLPError.data(
            "\(source) has no weight '\(key)' (it has \(weights.keys.sorted().prefix(12).joined(separator: ", ")))"
          )
        }
        values.append(t)
      }
      try l.setWeights(values)
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
