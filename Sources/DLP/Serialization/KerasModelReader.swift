import Foundation

/// What a Keras `model.to_json()` document's compile_config asks for.
public struct KerasCompileConfig {
  public var optimizer: JSONValue?
  /// One loss per output (or one for all), with their arguments.
  public var losses: [any Loss]
  public var lossWeights: [Float]?
  /// One list for every output, or one list per output.
  public var metrics: [[MetricSpec]]
}

/// Reads Keras 3 model JSON (Sequential and functional) into a `Model`.
public enum KerasModelReader {
  public static func read(path: String, seed: UInt64 = 0) throws -> (Model, KerasCompileConfig?) {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw DLPError.io("cannot read model file \(path)")
    }
    return try read(JSONValue.parse(data, source: "model file \(path)"), seed: seed)
  }

  public static func read(_ doc: JSONValue, seed: UInt64 = 0) throws -> (Model, KerasCompileConfig?) {
    guard let className = doc["class_name"]?.string, let config = doc["config"], config.object != nil else {
      throw DLPError.config("model JSON needs 'class_name' and 'config' (what Keras's model.to_json() writes)")
    }
    let model: Model
    switch className {
    case "Sequential": model = try sequential(config, doc: doc, seed: seed)
    case "Functional", "Model": model = try functional(config, seed: seed)
    default: throw DLPError.config("unsupported model class '\(className)'; expected Sequential or Functional")
    }
    return (model, try compileConfig(doc["compile_config"], outputs: model.outputs.map(\.node.layer.name)))
  }

  static func layerList(_ config: JSONValue) throws -> [JSONValue] {
    guard let layers = config["layers"]?.array else { throw DLPError.config("model config has no 'layers' list") }
    return layers
  }

  static func makeLayer(_ entry: JSONValue) throws -> Layer {
    guard let cls = entry["class_name"]?.string, let cfg = entry["config"], cfg.object != nil else {
      throw DLPError.config("a layer entry needs 'class_name' and 'config': \(entry.serialized().prefix(200))")
    }
    if ["Sequential", "Functional", "Model"].contains(cls) { return try nestedModel(cls, cfg, entry: entry) }
    return try LayerRegistry.make(className: cls, config: cfg)
  }

  /// A model nested as a layer (Keras writes its whole config in place). Its weights are laid
  /// out and initialised by the outermost model, in its layer order, as Keras draws them; a
  /// nested model marked not trainable freezes all its layers.
  static func nestedModel(_ className: String, _ config: JSONValue, entry: JSONValue) throws -> Model {
    let model =
      className == "Sequential"
      ? try sequential(config, doc: entry, seed: 0, bindWeights: false)
      : try functional(config, seed: 0, bindWeights: false)
    if config["trainable"]?.bool == false { model.trainable = false }
    return model
  }

  static func sequential(_ config: JSONValue, doc: JSONValue, seed: UInt64, bindWeights: Bool = true) throws -> Model {
    var entries = try layerList(config)
    var input: InputLayer?
    if let first = entries.first, first["class_name"]?.string == "InputLayer" {
      input = try inputLayer(first["config"] ?? nil)
      entries.removeFirst()
    }
    if input == nil {
      // Keras 2 put batch_input_shape on the first layer; Keras 3 keeps build_input_shape.
      let c = LayerConfig(className: "Sequential", json: config)
      let candidates: [[Int]?] = [
        try c.shape("build_input_shape"),
        try LayerConfig(className: "Sequential", json: doc["build_config"] ?? nil).shape("input_shape"),
        try entries.first.flatMap { try LayerConfig(className: "", json: $0["config"] ?? nil).shape("batch_input_shape") },
        try entries.first.flatMap { try LayerConfig(className: "", json: $0["config"] ?? nil).shape("batch_shape") },
        try entries.first.flatMap { try LayerConfig(className: "", json: $0["build_config"] ?? nil).shape("input_shape") },
      ]
      guard let shape = candidates.compactMap({ $0 }).first else {
        throw DLPError.config("the Sequential model has no input shape (no InputLayer, build_input_shape or build_config)")
      }
      input = InputLayer(shape: shape)
    }
    let layers = try entries.map(makeLayer)
    return try Sequential([input!] + layers, name: config["name"]?.string, seed: seed, bindWeights: bindWeights)
  }

  static func inputLayer(_ cfg: JSONValue) throws -> InputLayer {
    let c = LayerConfig(className: "InputLayer", json: cfg)
    guard let shape = try c.shape("batch_shape") ?? c.shape("batch_input_shape") else {
      throw DLPError.config("\(c.context): needs 'batch_shape'")
    }
    let dtype = try cfg["dtype"]?.string.map { try InputLayer.dtype(keras: $0, context: c.context) } ?? .float32
    return InputLayer(shape: shape, name: c.name, dtype: dtype)
  }

  /// A reference to a layer's output in a functional config: (layer name, node index).
  struct TensorRef {
    let layer: String
    let node: Int
    /// Which of the node's outputs (a recurrent layer with return_state has several).
    var tensor = 0
  }

  /// The tensors a node was called on, from Keras 3's `{"args": [...]}` or Keras 2's nested lists.
  static func inboundRefs(_ node: JSONValue, context: String) throws -> [TensorRef] {
    var refs: [TensorRef] = []
    func collect(_ v: JSONValue) throws {
      if let hist = v["config"]?["keras_history"]?.array {
        guard hist.count >= 2, let name = hist[0].string, let idx = hist[1].int else {
          throw DLPError.config("\(context): malformed keras_history \(v.serialized())")
        }
        refs.append(TensorRef(layer: name, node: idx, tensor: hist.count >= 3 ? hist[2].int ?? 0 : 0))
      } else if let a = v.array {
        if a.count >= 3, let name = a[0].string, let idx = a[1].int {  // Keras 2: [name, node, tensor, kwargs]
          refs.append(TensorRef(layer: name, node: idx, tensor: a[2].int ?? 0))
        } else {
          for x in a { try collect(x) }
        }
      }
    }
    if let args = node["args"] { try collect(args) } else { try collect(node) }
    return refs
  }

  static func functional(_ config: JSONValue, seed: UInt64, bindWeights: Bool = true) throws -> Model {
    let entries = try layerList(config)
    var layers: [String: Layer] = [:]
    var inbound: [String: [[TensorRef]]] = [:]
    var order: [String] = []
    // Keras 3 writes the mask of an Embedding(mask_zero=True) as an op, not_equal(ids, 0), given
    // to the layers that use it as their `mask` argument. DLP propagates that mask itself
    // (`MaskPlan`): the op is left out, and the layers given it must receive a mask.
    var maskOps = Set<String>()
    var maskedConsumers = Set<String>()
    for e in entries {
      guard let name = e["name"]?.string ?? e["config"]?["name"]?.string else {
        throw DLPError.config("a functional layer entry has no 'name'")
      }
      guard layers[name] == nil else { throw DLPError.config("two layers are named '\(name)'") }
      if e["class_name"]?.string == "NotEqual" {
        let args = e["inbound_nodes"]?.array?.first?["args"]?.array ?? []
        guard args.count == 2, args[1].double == 0 else {
          throw DLPError.config("op '\(name)' (NotEqual) is supported only as a mask, not_equal(ids, 0)")
        }
        maskOps.insert(name)
        continue
      }
      for node in e["inbound_nodes"]?.array ?? [] {
        if let ref = node["kwargs"]?["mask"]?["config"]?["keras_history"]?.array?.first?.string {
          guard maskOps.contains(ref) else {
            throw DLPError.config("layer '\(name)' takes a mask from '\(ref)'; DLP takes masks only from an Embedding's mask_zero")
          }
          maskedConsumers.insert(name)
        }
      }
      if e["class_name"]?.string == "InputLayer" {
        layers[name] = try inputLayer(e["config"] ?? nil)
        inbound[name] = []
      } else {
        layers[name] = try makeLayer(e)
        inbound[name] = try (e["inbound_nodes"]?.array ?? []).map { try inboundRefs($0, context: "layer '\(name)'") }
      }
      order.append(name)
    }
    // Create nodes until every inbound reference resolves; no progress means a cycle or a
    // dangling reference.
    var produced: [String: [SymbolicTensor]] = [:]
    for (name, layer) in layers {
      if let input = layer as? InputLayer { produced[name] = [SymbolicTensor(node: Node(layer: input, inputs: []), shape: input.shape)] }
    }
    // Output k of a node: the node's tensor, or a slice of it for a layer with several outputs.
    var slices: [ObjectIdentifier: [SymbolicTensor]] = [:]
    func output(_ t: SymbolicTensor, _ k: Int) throws -> SymbolicTensor {
      let shapes = (t.node.layer as? MultiOutputLayer)?.kerasOutputShapes ?? [t.shape]
      guard shapes.indices.contains(k) else {
        throw DLPError.config("layer '\(t.node.layer.name)' has \(shapes.count) outputs; a reference asks for output \(k)")
      }
      if shapes.count == 1 { return t }
      if slices[ObjectIdentifier(t.node)] == nil { slices[ObjectIdentifier(t.node)] = try TensorSlice.split(t, shapes: shapes) }
      return slices[ObjectIdentifier(t.node)]![k]
    }
    var pending = order.flatMap { name in (inbound[name] ?? []).enumerated().map { (name, $0.offset, $0.element) } }
    while !pending.isEmpty {
      var progress = false
      var rest: [(String, Int, [TensorRef])] = []
      for (name, nodeIndex, refs) in pending {
        guard produced[name, default: []].count == nodeIndex,
          let args = try? refs.map({ r -> SymbolicTensor in
            guard let t = produced[r.layer], r.node < t.count else { throw DLPError.config("") }
            return try output(t[r.node], r.tensor)
          })
        else {
          rest.append((name, nodeIndex, refs))
          continue
        }
        for r in refs where layers[r.layer] == nil {
          throw DLPError.config("layer '\(name)' takes its input from unknown layer '\(r.layer)'")
        }
        let out = try layers[name]!(args)
        produced[name, default: []].append(out)
        progress = true
      }
      if !progress {
        let (name, _, refs) = rest[0]
        if let bad = refs.first(where: { layers[$0.layer] == nil }) {
          throw DLPError.config("layer '\(name)' takes its input from unknown layer '\(bad.layer)'")
        }
        throw DLPError.config("the model graph has a cycle (or an unresolvable input) at layer '\(name)' <- \(refs.map(\.layer))")
      }
      pending = rest
    }
    func resolve(_ key: String) throws -> [SymbolicTensor] {
      guard let list = config[key]?.array else { throw DLPError.config("functional config needs '\(key)'") }
      // Either [[name, node, tensor], ...] or a single [name, node, tensor].
      let items = list.first?.string != nil ? [JSONValue.array(list)] : list
      return try items.map { item in
        guard let a = item.array, a.count >= 2, let name = a[0].string, let n = a[1].int else {
          throw DLPError.config("malformed entry in '\(key)': \(item.serialized())")
        }
        guard let t = produced[name], n < t.count else {
          throw DLPError.config("'\(key)' names layer '\(name)', which has no node \(n)")
        }
        return try output(t[n], a.count >= 3 ? a[2].int ?? 0 : 0)
      }
    }
    let model = try Model(
      inputs: resolve("input_layers"), outputs: resolve("output_layers"), name: config["name"]?.string, seed: seed,
      bindWeights: bindWeights)
    let plan = MaskPlan(model)
    let index = Dictionary(uniqueKeysWithValues: model.nodes.enumerated().map { (ObjectIdentifier($1), $0) })
    for n in model.nodes where maskedConsumers.contains(n.layer.name) {
      guard let input = n.inputs.first, plan.source[index[ObjectIdentifier(input.node)]!] != nil else {
        throw DLPError.config(
          "layer '\(n.layer.name)' is given a mask in the model file that does not reach it from an Embedding with mask_zero=True")
      }
    }
    return model
  }

  static func compileConfig(_ v: JSONValue?, outputs: [String]) throws -> KerasCompileConfig? {
    guard let v, v.object != nil else { return nil }
    // A Keras object (a loss or metric with its config) is a dict too; a per-output dict is not.
    func isKerasObject(_ x: JSONValue) -> Bool { x["class_name"] != nil }
    func perOutput(_ x: JSONValue?, what: String) throws -> [JSONValue]? {
      guard let x, !x.isNull else { return nil }
      if let o = x.object, !isKerasObject(x) {
        return try outputs.map { name in
          guard let e = o[name] else { throw DLPError.config("compile_config \(what) has no entry for output '\(name)'") }
          return e
        }
      }
      if let a = x.array, outputs.count > 1 || a.first?.array != nil || a.count == 1 { return a }
      return [x]
    }
    let lossValues = try perOutput(v["loss"], what: "loss") ?? []
    let losses = try lossValues.map { try Losses.parse($0, context: "compile_config loss") }
    let weights = try perOutput(v["loss_weights"], what: "loss_weights")?.map { w -> Float in
      guard let d = w.double else {
        // Keras 3's compile(optimizer, loss, metrics_list) puts the list into loss_weights
        // (its third positional parameter): say what was found.
        throw DLPError.config("compile_config loss_weights must be numbers, found \(w.serialized())")
      }
      return Float(d)
    }
    // Metrics: a list for every output, a list of lists or a dict by output name.
    let metrics: [[MetricSpec]]
    let m = v["metrics"]
    func list(_ x: JSONValue?) throws -> [MetricSpec] {
      guard let x, !x.isNull else { return [] }
      guard let a = x.array else { return [try Metrics.parse(x, context: "compile_config metrics")] }
      return try a.map { try Metrics.parse($0, context: "compile_config metrics") }
    }
    if let m, let o = m.object, !isKerasObject(m) {
      metrics = try outputs.map { try list(o[$0]) }
    } else if let a = m?.array, a.contains(where: { $0.array != nil || $0.isNull }) {
      guard a.count == outputs.count else {
        throw DLPError.config("compile_config metrics has \(a.count) lists for \(outputs.count) outputs")
      }
      metrics = try a.map(list)
    } else {
      metrics = [try list(m)]
    }
    return KerasCompileConfig(optimizer: v["optimizer"], losses: losses, lossWeights: weights, metrics: metrics)
  }
}
