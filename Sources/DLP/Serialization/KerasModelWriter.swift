/// Writes a model as Keras 3's `model.to_json()` does, so Keras (and DLP) can read it back.
public enum KerasModelWriter {
  static let dtypePolicy: JSONValue = [
    "module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"], "registered_name": nil,
  ]

  public static func json(_ model: Model) -> JSONValue {
    var doc: [String: JSONValue] = [
      "module": model.isSequential ? "keras" : "keras.src.models.functional",
      "class_name": model.isSequential ? "Sequential" : "Functional",
      "registered_name": nil,
      "config": model.isSequential ? sequentialConfig(model) : functionalConfig(model),
    ]
    if model.isSequential { doc["build_config"] = ["input_shape": .batchShape(model.inputs[0].shape)] }
    if let c = model.compiled { doc["compile_config"] = compileConfig(c) }
    return .object(doc)
  }

  static func layerEntry(_ layer: Layer) -> [String: JSONValue] {
    var config = layer.config()
    config["name"] = .string(layer.name)
    if let input = layer as? InputLayer {
      config["dtype"] = .string(input.dtype.rawValue)
    } else {
      config["trainable"] = .bool(layer.trainable)
      config["dtype"] = dtypePolicy
    }
    var entry: [String: JSONValue] = [
      "module": "keras.layers", "class_name": .string(layer.className), "config": .object(config), "registered_name": nil,
    ]
    if !(layer is InputLayer) {
      let shapes = layer.inputShapes.map { JSONValue.batchShape($0) }
      entry["build_config"] = ["input_shape": shapes.count == 1 ? shapes[0] : .array(shapes)]
    }
    return entry
  }

  static func sequentialConfig(_ model: Model) -> JSONValue {
    let layers = model.nodes.map { layerEntry($0.layer) }
    return [
      "name": .string(model.name), "trainable": true, "dtype": dtypePolicy,
      "layers": .array(layers.map { .object($0) }), "build_input_shape": .batchShape(model.inputs[0].shape),
    ]
  }

  static func functionalConfig(_ model: Model) -> JSONValue {
    // Node index of each node within its layer (a shared layer has several).
    var nodeIndex: [ObjectIdentifier: Int] = [:]
    var perLayer: [ObjectIdentifier: Int] = [:]
    for n in model.nodes {
      let l = ObjectIdentifier(n.layer)
      nodeIndex[ObjectIdentifier(n)] = perLayer[l, default: 0]
      perLayer[l, default: 0] += 1
    }
    func ref(_ t: SymbolicTensor) -> JSONValue {
      // An output of a layer with several is a slice: Keras names the layer and the output.
      if let slice = t.node.layer as? TensorSlice, let source = t.node.inputs.first {
        return [
          "class_name": "__keras_tensor__",
          "config": [
            "shape": .batchShape(t.shape), "dtype": "float32",
            "keras_history": [.string(source.node.layer.name), JSONValue(nodeIndex[ObjectIdentifier(source.node)]!), JSONValue(slice.index)],
          ],
        ]
      }
      return [
        "class_name": "__keras_tensor__",
        "config": [
          "shape": .batchShape(t.shape), "dtype": .string(t.dtype.rawValue),
          "keras_history": [.string(t.node.layer.name), JSONValue(nodeIndex[ObjectIdentifier(t.node)]!), 0],
        ],
      ]
    }
    var entries: [JSONValue] = []
    for layer in model.layers where !(layer is TensorSlice) {
      var e = layerEntry(layer)
      e["name"] = .string(layer.name)
      let calls = model.nodes.filter { $0.layer === layer && !$0.inputs.isEmpty }
      e["inbound_nodes"] = .array(
        calls.map { n in
          let args: JSONValue = n.inputs.count == 1 ? ref(n.inputs[0]) : .array(n.inputs.map(ref))
          return ["args": [args], "kwargs": [:]]
        })
      entries.append(.object(e))
    }
    func list(_ ts: [SymbolicTensor]) -> JSONValue {
      .array(
        ts.map { t in
          guard let slice = t.node.layer as? TensorSlice, let source = t.node.inputs.first else {
            return [.string(t.node.layer.name), JSONValue(nodeIndex[ObjectIdentifier(t.node)]!), 0]
          }
          return [.string(source.node.layer.name), JSONValue(nodeIndex[ObjectIdentifier(source.node)]!), JSONValue(slice.index)]
        })
    }
    return [
      "name": .string(model.name), "trainable": true, "layers": .array(entries),
      "input_layers": list(model.inputs), "output_layers": list(model.outputs),
    ]
  }

  static func compileConfig(_ c: CompiledSettings) -> JSONValue {
    let multi = c.heads.count > 1
    let loss: JSONValue = multi
      ? .object(Dictionary(uniqueKeysWithValues: c.heads.map { ($0.name, JSONValue($0.loss.name)) })) : .string(c.heads[0].loss.name)
    let weights: JSONValue = c.heads.allSatisfy { $0.lossWeight == 1 }
      ? nil : .object(Dictionary(uniqueKeysWithValues: c.heads.map { ($0.name, JSONValue($0.lossWeight)) }))
    let metrics: JSONValue = .array(c.heads[0].metrics.map { .string($0.name) })
    return [
      "optimizer": KerasObjects.optimizer(c.optimizer), "loss": loss, "loss_weights": weights, "metrics": metrics,
      "weighted_metrics": nil, "run_eagerly": false, "steps_per_execution": 1, "jit_compile": false,
    ]
  }
}

extension Model {
  /// Keras's `model.to_json()`.
  public func toJSON(pretty: Bool = false) -> String { KerasModelWriter.json(self).serialized(pretty: pretty) }
}
