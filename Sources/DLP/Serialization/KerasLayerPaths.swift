import Foundation

/// Where Keras 3 keeps each layer's variables in a weights file: `layers/<name>`, where the name
/// is the layer's class in snake case, made unique in `model.layers` order (`dense`, `dense_1`,
/// ...; saving_lib's `_save_container_state`), not the layer's own name. The order is therefore
/// Keras's: a Sequential's layers after its input, and for a functional model the operations
/// sorted as `keras.src.ops.function.map_graph` sorts them (by depth from the outputs, ties by
/// first visit of a depth-first walk from the outputs), which this file reproduces.
public enum KerasLayerPaths {
  /// The layers of `model` in Keras's `model.layers` order, each with its path in a weights file
  /// (a nested model's layers under its own: `layers/functional/layers/conv2d`).
  public static func entries(for model: Model) -> [(path: String, layer: Layer)] {
    tree(for: model).filter { !($0.layer is Model) }
  }

  /// `entries`, with each nested model's own entry before its layers'.
  public static func tree(for model: Model, prefix: String = "layers/") -> [(path: String, layer: Layer)] {
    // A slice of a layer's several outputs is DLP's own; Keras has no such layer.
    let layers = (model.isSequential ? model.topLevelLayers.filter { !($0 is InputLayer) } : functionalOrder(model))
      .filter { !($0 is TensorSlice) }
    var used: [String: Int] = [:]
    return layers.flatMap { layer -> [(path: String, layer: Layer)] in
      let base = snakeCase(layer.className)
      let name: String
      if let n = used[base] {
        used[base] = n + 1
        name = "\(base)_\(n + 1)"
      } else {
        used[base] = 0
        name = base
      }
      guard let nested = layer as? Model else { return [(prefix + name, layer)] }
      return [(prefix + name, nested)] + tree(for: nested, prefix: prefix + name + "/layers/")
    }
  }

  /// Keras's `naming.to_snake_case`: `Conv2D` -> `conv2d`, `MaxPooling2D` -> `max_pooling2d`,
  /// `InputLayer` -> `input_layer`.
  public static func snakeCase(_ name: String) -> String {
    // re.sub(r"\W+", "", name)
    var s = String(name.unicodeScalars.filter { CharacterSet.alphanumerics.contains($0) || $0 == "_" })
    // re.sub("(.)([A-Z][a-z]+)", r"\1_\2", name)
    s = replace(s, pattern: "(.)([A-Z][a-z]+)", template: "$1_$2")
    // re.sub("([a-z])([A-Z])", r"\1_\2", name).lower()
    s = replace(s, pattern: "([a-z])([A-Z])", template: "$1_$2")
    return s.lowercased()
  }

  private static func replace(_ s: String, pattern: String, template: String) -> String {
    let re = try! NSRegularExpression(pattern: pattern)
    return re.stringByReplacingMatches(in: s, range: NSRange(s.startIndex..., in: s), withTemplate: template)
  }

  /// `map_graph`'s operation order for a functional model: its own layers and nested models
  /// (each application of a nested model is one operation).
  static func functionalOrder(_ model: Model) -> [Layer] {
    // The top-level operations: a node of the model's own, or a nested model's application.
    struct Operation {
      let id: ObjectIdentifier
      let layer: Layer
      let inputs: [SymbolicTensor]
    }
    func operation(producing t: SymbolicTensor) -> Operation {
      if let c = t.node.calls.first { return Operation(id: ObjectIdentifier(c), layer: c.model, inputs: c.inputs) }
      return Operation(id: ObjectIdentifier(t.node), layer: t.node.layer, inputs: t.node.inputs)
    }
    // _build_map: depth-first from each output; a layer's index is its first visit (pre-order),
    // operations are listed when finished (post-order: inputs before the operations using them).
    var firstVisit: [ObjectIdentifier: Int] = [:]
    var finished = Set<ObjectIdentifier>()
    var postOrder: [Operation] = []
    func visit(_ op: Operation) {
      if finished.contains(op.id) { return }
      let layer = ObjectIdentifier(op.layer)
      if firstVisit[layer] == nil { firstVisit[layer] = firstVisit.count }
      for input in op.inputs { visit(operation(producing: input)) }
      finished.insert(op.id)
      postOrder.append(op)
    }
    for output in model.outputs { visit(operation(producing: output)) }
    let inGraph = Set(postOrder.map(\.id))

    // Depths: 0 at the outputs, an operation's inputs one deeper than the deepest operation
    // using them; a shared layer takes the greatest depth of its operations.
    var opDepth: [ObjectIdentifier: Int] = [:]
    var layerDepth: [ObjectIdentifier: Int] = [:]
    var layerByID: [ObjectIdentifier: Layer] = [:]
    for op in postOrder.reversed() {
      let layer = ObjectIdentifier(op.layer)
      let depth = Swift.max(opDepth[op.id] ?? 0, layerDepth[layer] ?? 0)
      layerDepth[layer] = depth
      layerByID[layer] = op.layer
      opDepth[op.id] = depth
      for input in op.inputs {
        let p = operation(producing: input).id
        guard inGraph.contains(p) else { continue }
        opDepth[p] = Swift.max(depth + 1, opDepth[p] ?? 0)
      }
    }
    // Inputs that reach no output still belong to the model, at depth 0, first among equals.
    for input in model.inputs where layerDepth[ObjectIdentifier(input.node.layer)] == nil {
      let layer = ObjectIdentifier(input.node.layer)
      layerDepth[layer] = 0
      firstVisit[layer] = -1
      layerByID[layer] = input.node.layer
    }
    return layerDepth.keys.sorted { a, b in
      let (da, db) = (layerDepth[a]!, layerDepth[b]!)
      return da != db ? da > db : firstVisit[a]! < firstVisit[b]!
    }.map { layerByID[$0]! }
  }
}
