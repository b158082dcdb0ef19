import Foundation

/// Where Keras 3 keeps each layer's variables in a weights file: `layers/<name>`, where the name
/// is the layer's class in snake case, made unique in `model.layers` order (`dense`, `dense_1`,
/// ...; saving_lib's `_save_container_state`), not the layer's own name. The order is therefore
/// Keras's: a Sequential's layers after its input, and for a functional model the operations
/// sorted as `keras.src.ops.function.map_graph` sorts them (by depth from the outputs, ties by
/// first visit of a depth-first walk from the outputs), which this file reproduces.
public enum KerasLayerPaths {
  /// The layers of `model` in Keras's `model.layers` order, each with its path in a weights file.
  public static func entries(for model: Model) -> [(path: String, layer: Layer)] {
    let layers = model.isSequential ? model.layers.filter { !($0 is InputLayer) } : functionalOrder(model)
    var used: [String: Int] = [:]
    return layers.map { layer in
      let base = snakeCase(layer.className)
      let name: String
      if let n = used[base] {
        used[base] = n + 1
        name = "\(base)_\(n + 1)"
      } else {
        used[base] = 0
        name = base
      }
      return ("layers/" + name, layer)
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

  /// `map_graph`'s operation order for a functional model.
  static func functionalOrder(_ model: Model) -> [Layer] {
    // _build_map: depth-first from each output; a layer's index is its first visit (pre-order),
    // nodes are listed when finished (post-order: inputs before the nodes that use them).
    var firstVisit: [ObjectIdentifier: Int] = [:]
    var finished = Set<ObjectIdentifier>()
    var postOrder: [Node] = []
    func visit(_ node: Node) {
      let id = ObjectIdentifier(node)
      if finished.contains(id) { return }
      let layer = ObjectIdentifier(node.layer)
      if firstVisit[layer] == nil { firstVisit[layer] = firstVisit.count }
      for input in node.inputs { visit(input.node) }
      finished.insert(id)
      postOrder.append(node)
    }
    for output in model.outputs { visit(output.node) }
    let inGraph = Set(postOrder.map { ObjectIdentifier($0) })

    // Depths: 0 at the outputs, a node's inputs one deeper than the deepest node using them; a
    // shared layer takes the greatest depth of its nodes.
    var nodeDepth: [ObjectIdentifier: Int] = [:]
    var layerDepth: [ObjectIdentifier: Int] = [:]
    var layerByID: [ObjectIdentifier: Layer] = [:]
    for node in postOrder.reversed() {
      let id = ObjectIdentifier(node)
      let layer = ObjectIdentifier(node.layer)
      let depth = Swift.max(nodeDepth[id] ?? 0, layerDepth[layer] ?? 0)
      layerDepth[layer] = depth
      layerByID[layer] = node.layer
      nodeDepth[id] = depth
      for input in node.inputs where inGraph.contains(ObjectIdentifier(input.node)) {
        let p = ObjectIdentifier(input.node)
        nodeDepth[p] = Swift.max(depth + 1, nodeDepth[p] ?? 0)
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
