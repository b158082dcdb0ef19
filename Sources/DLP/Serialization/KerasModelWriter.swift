/// Writes a model as Keras 3's `model.to_json()` does, so Keras (and DLP) can read it back.
public enum KerasModelWriter {
  static let dtypePolicy: JSONValue = [
    "module": "keras", "class_name": "DTypePolicy", "config": ["name": "float32"], "registered_name": nil,
  ]

  public static func json(_ model: Model) -> JSONValue {
    var doc = modelEntry(model)
    doc["registered_name"] = .null
    if !model.isSequential { doc["build_config"] = nil }
    if let c = model.compiled { doc["compile_config"] = compileConfig(c) }
    return .object(doc)
  }

  /// A model as Keras writes it, at the top of a document or nested as a layer.
  static func modelEntry(_ model: Model) -> [String: JSONValue] {
    [
      "module": model.isSequential ? "keras" : "keras.src.models.functional",
      "class_name": .string(model.className),
      "registered_name": model.isSequential ? nil : "Functional",
      "config": model.isSequential ? sequentialConfig(model) : functionalConfig(model),
      "build_config": ["input_shape": model.isSequential ? .batchShape(model.inputs[0].shape) : nil],
    ]
  }

  static func layerEntry(_ layer: Layer) -> [String: JSONValue] {
    if let model = layer as? Model { return modelEntry(model) }
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
    let layers = model.topLevelItems.map { item -> [String: JSONValue] in
      switch item {
      case .node(let n): return layerEntry(n.layer)
      case .call(let c): return modelEntry(c.model)
      }
    }
    return [
      "name": .string(model.name), "trainable": .bool(model.trainable), "dtype": dtypePolicy,
      "layers": .array(layers.map { .object($0) }), "build_input_shape": .batchShape(model.inputs[0].shape),
    ]
  }

  static func functionalConfig(_ model: Model) -> JSONValue {
    let refs = TopLevelRefs(model)
    func ref(_ t: SymbolicTensor) -> JSONValue {
      let r = refs.ref(t)
      return [
        "class_name": "__keras_tensor__",
        "config": [
          "shape": .batchShape(t.shape), "dtype": .string(t.dtype.rawValue),
          "keras_history": [.string(r.name), JSONValue(r.node), JSONValue(r.tensor)],
        ],
      ]
    }
    var entries: [JSONValue] = []
    for layer in model.topLevelLayers where !(layer is TensorSlice) {
      var e = layerEntry(layer)
      e["name"] = .string(layer.name)
      // The calls of this layer (or nested model) at the top level, in order.
      let calls: [[SymbolicTensor]] = refs.items.compactMap { item in
        switch item {
        case .node(let n): return n.layer === layer && !n.inputs.isEmpty ? n.inputs : nil
        case .call(let c): return c.model === layer ? c.inputs : nil
        }
      }
      e["inbound_nodes"] = .array(
        calls.map { inputs in
          let args: JSONValue = inputs.count == 1 ? ref(inputs[0]) : .array(inputs.map(ref))
          return ["args": [args], "kwargs": [:]]
        })
      entries.append(.object(e))
    }
    func list(_ ts: [SymbolicTensor]) -> JSONValue {
      .array(ts.map { t in let r = refs.ref(t); return [.string(r.name), JSONValue(r.node), JSONValue(r.tensor)] })
    }
    return [
      "name": .string(model.name), "trainable": .bool(model.trainable), "layers": .array(entries),
      "input_layers": list(model.inputs), "output_layers": list(model.outputs),
    ]
  }

  static func compileConfig(_ c: CompiledSettings) -> JSONValue {
    let multi = c.heads.count > 1
    let loss: JSONValue = multi
      ? .object(Dictionary(uniqueKeysWithValues: c.heads.map { ($0.name, Losses.serialize($0.loss)) })) : Losses.serialize(c.heads[0].loss)
    let weights: JSONValue = c.heads.allSatisfy { $0.lossWeight == 1 }
      ? nil : .object(Dictionary(uniqueKeysWithValues: c.heads.map { ($0.name, JSONValue($0.lossWeight)) }))
    // One list for every output when they agree (what compile(metrics=[...]) saves), else a
    // list per output by name.
    func list(_ h: OutputHead) -> JSONValue {
      .array(h.metrics.map { Metrics.serialize($0, loss: h.loss, outputWidth: h.width) })
    }
    let lists = c.heads.map(list)
    let metrics: JSONValue = lists.allSatisfy { $0 == lists[0] }
      ? lists[0] : .object(Dictionary(uniqueKeysWithValues: zip(c.heads.map(\.name), lists).map { ($0, $1) }))
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
