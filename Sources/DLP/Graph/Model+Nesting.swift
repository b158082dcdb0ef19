/// Models inside models (Keras's `Sequential([conv_base, Flatten(), ...])`, `inner(x)`).
///
/// Design: calling a model on symbolic tensors INLINES it: each of its nodes is copied into the
/// caller's graph (same layer objects, so the same weights; new nodes, so the inner model may be
/// applied twice, like a shared layer), and every copy remembers the `ModelCall` it came from.
/// The executor, the parameter store, gradients and masks then see one flat graph and need no
/// notion of nesting. The inner `Model` stays the owner of its layers for what is about
/// structure: its name prefixes its layers' weight names (`vgg16/block1_conv1/kernel`), its
/// `trainable` freezes all of them (`Model.trains`), `summary()` shows it as one row with its
/// parameter count, and `toJSON` writes its config nested, as Keras does.
public final class ModelCall {
  /// The model applied.
  public let model: Model
  /// The tensors it was called on and the tensors it produced, in the caller's graph.
  public let inputs: [SymbolicTensor]
  public internal(set) var outputs: [SymbolicTensor] = []

  init(model: Model, inputs: [SymbolicTensor]) {
    self.model = model
    self.inputs = inputs
  }
}

/// One entry of a model's top level (Keras's `model.layers` as applied): a node of one of its
/// own layers, or an application of a nested model.
public enum TopLevelItem {
  case node(Node)
  case call(ModelCall)
}

extension Model {
  /// Applies this model to `inputs` inside another graph; returns its outputs there.
  public func call(_ inputs: [SymbolicTensor]) throws -> [SymbolicTensor] {
    guard inputs.count == self.inputs.count else {
      throw DLPError.shape(
        "model '\(name)' takes \(self.inputs.count) inputs, it was called on \(inputs.count)")
    }
    for (given, own) in zip(inputs, self.inputs) where given.shape != own.shape {
      throw DLPError.shape(
        "model '\(name)' expects input '\(own.node.layer.name)' of shape \(describeShapes([own.shape])), received \(describeShapes([given.shape]))"
      )
    }
    let call = ModelCall(model: self, inputs: inputs)
    var mapped: [ObjectIdentifier: SymbolicTensor] = [:]
    for (given, own) in zip(inputs, self.inputs) { mapped[ObjectIdentifier(own.node)] = given }
    for n in nodes where mapped[ObjectIdentifier(n)] == nil {
      // Topological order: every input of n is mapped already.
      let copy = Node(layer: n.layer, inputs: n.inputs.map { mapped[ObjectIdentifier($0.node)]! })
      copy.calls = [call] + n.calls
      mapped[ObjectIdentifier(n)] = SymbolicTensor(node: copy, shape: n.layer.outputShape)
    }
    call.outputs = outputs.map { mapped[ObjectIdentifier($0.node)]! }
    return call.outputs
  }

  /// `Layer.callAsFunction` on a model: its one output.
  func callSingleOutput(_ inputs: [SymbolicTensor]) throws -> SymbolicTensor {
    guard outputs.count == 1 else {
      throw DLPError.config(
        "model '\(name)' has \(outputs.count) outputs; call it with model.call(_:) to get them all")
    }
    return try call(inputs)[0]
  }

  /// Own nodes and nested model applications, in graph order (an application where its first
  /// node is).
  public var topLevelItems: [TopLevelItem] {
    var seen = Set<ObjectIdentifier>()
    var items: [TopLevelItem] = []
    for n in nodes {
      guard let c = n.calls.first else {
        items.append(.node(n))
        continue
      }
      if seen.insert(ObjectIdentifier(c)).inserted { items.append(.call(c)) }
    }
    return items
  }

  /// Keras's `model.layers`: this model's own layers and nested models, each once, in graph
  /// order (functional models list their InputLayers; a Sequential's input is not a layer).
  public var topLevelLayers: [Layer] {
    var seen = Set<ObjectIdentifier>()
    var out: [Layer] = []
    for item in topLevelItems {
      let l: Layer
      switch item {
      case .node(let n):
        if isSequential && n.layer is InputLayer { continue }
        l = n.layer
      case .call(let c): l = c.model
      }
      if seen.insert(ObjectIdentifier(l)).inserted { out.append(l) }
    }
    return out
  }

  /// Every model nested in this one, at any depth, each once.
  public var nestedModels: [Model] {
    var seen = Set<ObjectIdentifier>()
    var out: [Model] = []
    for n in nodes {
      for c in n.calls where seen.insert(ObjectIdentifier(c.model)).inserted { out.append(c.model) }
    }
    return out
  }

  /// Keras refuses two top-level layers (or nested models) of one name.
  func checkTopLevelNames() throws {
    let names = topLevelLayers.map(\.name)
    if let dup = Dictionary(grouping: names, by: { $0 }).filter({ $0.value.count > 1 }).keys.sorted().first {
      throw DLPError.config(
        "two different layers are named '\(dup)'; layer names must be unique in a model")
    }
  }
}

/// How Keras refers to the tensors of a model's top level: `[layer name, node index, tensor
/// index]`, where a nested model's outputs are those of its application (`inner3[1][0]`).
struct TopLevelRefs {
  let items: [TopLevelItem]
  /// Index of each item among the items of the same layer or model.
  let itemIndex: [Int]
  private var refs: [ObjectIdentifier: (name: String, node: Int, tensor: Int)] = [:]

  init(_ model: Model) {
    items = model.topLevelItems
    var perOwner: [ObjectIdentifier: Int] = [:]
    var indices: [Int] = []
    for item in items {
      switch item {
      case .node(let n):
        // A slice of a layer's several outputs is that layer's output `index` (Keras's
        // [layer, node, tensor] reference).
        if let slice = n.layer as? TensorSlice, let source = n.inputs.first {
          let r = refs[ObjectIdentifier(source.node)] ?? (source.node.layer.name, 0, 0)
          refs[ObjectIdentifier(n)] = (r.name, r.node, slice.index)
          indices.append(0)
          continue
        }
        let k = perOwner[ObjectIdentifier(n.layer), default: 0]
        perOwner[ObjectIdentifier(n.layer)] = k + 1
        indices.append(k)
        refs[ObjectIdentifier(n)] = (n.layer.name, k, 0)
      case .call(let c):
        let k = perOwner[ObjectIdentifier(c.model), default: 0]
        perOwner[ObjectIdentifier(c.model)] = k + 1
        indices.append(k)
        for (j, o) in c.outputs.enumerated() { refs[ObjectIdentifier(o.node)] = (c.model.name, k, j) }
      }
    }
    itemIndex = indices
  }

  func ref(_ t: SymbolicTensor) -> (name: String, node: Int, tensor: Int) {
    refs[ObjectIdentifier(t.node)] ?? (t.node.layer.name, 0, 0)
  }
}

extension Model {
  /// The layers and nested models a name picks: `layer(named:)`, or with a trailing `*`
  /// every layer or nested model whose name or path starts with the rest.
  public func layers(matching pattern: String) throws -> [Layer] {
    guard pattern.hasSuffix("*") else { return [try layer(named: pattern)] }
    let prefix = String(pattern.dropLast())
    let candidates: [(String, Layer)] =
      nestedModels.map { ($0.name, $0 as Layer) }
      + layers.filter { !($0 is InputLayer) }.flatMap { [($0.name, $0), (layerPath($0), $0)] }
    var seen = Set<ObjectIdentifier>()
    let picked = candidates.filter { $0.0.hasPrefix(prefix) }.map(\.1).filter {
      seen.insert(ObjectIdentifier($0)).inserted
    }
    guard !picked.isEmpty else {
      throw DLPError.config("model '\(name)' has no layer matching '\(pattern)'; it has \(topLevelLayers.map(\.name))")
    }
    return picked
  }
}
