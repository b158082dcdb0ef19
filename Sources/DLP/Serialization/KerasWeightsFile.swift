import Foundation

/// Keras 3's HDF5 weights layout (`model.save_weights("x.weights.h5")`, and `model.weights.h5`
/// inside a `.keras` file), both ways, as `keras/src/saving/saving_lib.py` writes it:
///
///     vars                       attrs {name: MODEL}         the model's own variables (none)
///     layers/<path>/vars         attrs {name: LAYER}         "0", "1", ...: the layer's weights
///     optimizer/vars             attrs {name: OPTIMIZER}     "0": iterations (int32),
///                                                            "1": learning_rate (float32; absent
///                                                            with a schedule), then the slots
///
/// `<path>` is the layer's class in snake case made unique in `model.layers` order
/// (`KerasLayerPaths`), not its name. Every layer gets its group, weights or not, as Keras's
/// `H5IOStore.make` creates it.
public enum KerasWeightsFile {
  /// Writes the model's weights (and, when `includeOptimizer` and the model is compiled, its
  /// optimizer's state) into `file`.
  public static func write(_ model: Model, into file: HDF5File, includeOptimizer: Bool) throws {
    let root = try file.root()
    try root.createGroup("vars").setStringAttribute("name", model.name)
    let layersGroup = try root.createGroup("layers")
    // A nested model's group holds its own (empty) vars and a layers group for its layers.
    for (path, layer) in KerasLayerPaths.tree(for: model) {
      var group = layersGroup
      for part in path.split(separator: "/").dropFirst().map(String.init) {
        group = try group.group(part) ?? group.createGroup(part)
      }
      try group.createGroup("vars").setStringAttribute("name", layer.name)
      if layer is Model { continue }
      // Each folder of the layer's weights (a recurrent layer's cell), with an empty `vars` at
      // every level on the way, as Keras saves the layer and its sub-layers.
      var weights = Array(zip(layer.weightSpecs, layer.getWeights()))[...]
      for (path, count) in layer.kerasVariableGroups {
        var g = group
        for part in path.split(separator: "/").dropLast().map(String.init) {
          g = try g.group(part) ?? g.createGroup(part)
          if try g.group("vars") == nil {
            try g.createGroup("vars").setStringAttribute("name", part)
          }
        }
        let vars = try g.group("vars") ?? g.createGroup("vars")
        for (i, (spec, value)) in weights.prefix(count).enumerated() {
          try vars.write(String(i), shape: spec.shape, floats: value.scalars)
        }
        weights = weights.dropFirst(count)
      }
    }
    if includeOptimizer, let c = model.compiled,
      c.optimizer.holdsState(forParameters: model.parameters.count)
    {
      try writeOptimizer(
        c.optimizer, model: model, into: root.createGroup("optimizer").createGroup("vars"))
    }
  }

  /// Flat-buffer ranges of the trainable variables, in Keras's `model.trainable_variables`
  /// order (the layers in `model.layers` order, each layer's weights in order).
  static func trainableVariables(_ model: Model) -> [Range<Int>] {
    KerasLayerPaths.entries(for: model).flatMap { _, layer -> [Range<Int>] in
      guard model.trains(layer), let b = layer.binding else { return [] }
      // Not BatchNormalization's moving statistics: non-trainable variables.
      return layer.weightSpecs.enumerated().filter { $0.element.trainable }.map { i, spec in
        b.offsets[i]..<(b.offsets[i] + spec.count)
      }
    }
  }

  static func shapes(_ model: Model) -> [[Int]] {
    KerasLayerPaths.entries(for: model).flatMap { _, layer in
      model.trains(layer) ? layer.weightSpecs.filter(\.trainable).map(\.shape) : []
    }
  }

  static func writeOptimizer(_ o: Optimizer, model: Model, into vars: HDF5Group) throws {
    try vars.setStringAttribute("name", o.kerasName)
    try vars.write("0", int32: Int32(clamping: o.iterations))
    var index = 1
    if o.schedule == nil {
      try vars.write("1", shape: [], floats: [o.learningRate])
      index = 2
    }
    for (range, shape) in zip(trainableVariables(model), shapes(model)) {
      for k in 0..<o.slotCount {
        try vars.write(String(index), shape: shape, floats: o.slotValues(k, range: range))
        index += 1
      }
    }
  }

  /// The file's bytes: what `save` writes and what a `.keras` archive holds.
  public static func bytes(_ model: Model, includeOptimizer: Bool = true) throws -> [UInt8] {
    let file = try HDF5File.create(source: "model.weights.h5")
    try write(model, into: file, includeOptimizer: includeOptimizer)
    return try file.imageBytes()
  }

  /// Writes `PATH.weights.h5` atomically.
  public static func save(_ model: Model, to path: String, includeOptimizer: Bool = true) throws {
    try FileIO.writeAtomically(
      bytes(model, includeOptimizer: includeOptimizer), to: URL(fileURLWithPath: path))
  }

  /// Loads every layer's weights from `file`, checking each against the model's shapes; with
  /// `optimizer`, also the optimizer's state when the file has one of the same structure
  /// (otherwise the optimizer starts afresh, as Keras warns and does).
  public static func load(_ model: Model, from file: HDF5File, optimizer: Bool) throws {
    let root = try file.root()
    let layersGroup = try root.group("layers")
    for (path, layer) in KerasLayerPaths.entries(for: model) {
      var group = layersGroup
      for part in path.split(separator: "/").dropFirst() { group = try group?.group(String(part)) }
      var tensors: [Tensor] = []
      for (sub, count) in layer.kerasVariableGroups {
        var vars = group
        for part in sub.split(separator: "/") { vars = try vars?.group(String(part)) }
        let names = try vars?.childNames() ?? []
        guard names.count == count else {
          throw DLPError.data(
            "\(file.source): layer '\(layer.name)' (\(layer.className)) expected \(count) variables at '\(path)/\(sub)', but received \(names.count)"
          )
        }
        guard let vars, count > 0 else { continue }
        for i in 0..<count {
          let spec = layer.weightSpecs[tensors.count]
          let (shape, values) = try vars.readFloats(String(i))
          guard shape == spec.shape else {
            throw DLPError.shape(
              "\(file.source): weight '\(layer.name)/\(spec.name)' has shape \(spec.shape), '\(path)/\(sub)/\(i)' holds \(shape)"
            )
          }
          tensors.append(Tensor(uncheckedShape: shape, scalars: values))
        }
      }
      guard !tensors.isEmpty else { continue }
      try layer.setWeights(tensors)
    }
    if optimizer, let c = model.compiled, let vars = try root.group("optimizer")?.group("vars") {
      try loadOptimizer(c.optimizer, model: model, from: vars)
    }
  }

  /// Restores `iterations`, the learning rate and the slots when the saved state has exactly the
  /// variables this optimizer would save; returns whether it did.
  @discardableResult
  static func loadOptimizer(_ o: Optimizer, model: Model, from vars: HDF5Group) throws -> Bool {
    let ranges = trainableVariables(model)
    let expected = 1 + (o.schedule == nil ? 1 : 0) + ranges.count * o.slotCount
    guard try vars.childNames().count == expected else { return false }
    let (_, iterations) = try vars.readFloats("0")
    guard iterations.count == 1, iterations[0] >= 0, iterations[0] < 1e15 else {
      throw DLPError.data("\(vars.file.source): optimizer/vars/0 is not an iteration count")
    }
    var index = 1
    if o.schedule == nil {
      let (_, lr) = try vars.readFloats("1")
      guard lr.count == 1 else {
        throw DLPError.data("\(vars.file.source): optimizer/vars/1 is not a learning rate")
      }
      o.learningRate = lr[0]
      index = 2
    }
    var slots: [(slot: Int, range: Range<Int>, values: [Float])] = []
    for (range, shape) in zip(ranges, shapes(model)) {
      for k in 0..<o.slotCount {
        let (s, values) = try vars.readFloats(String(index))
        guard s == shape else {
          throw DLPError.shape(
            "\(vars.file.source): optimizer/vars/\(index) has shape \(s), expected \(shape)")
        }
        slots.append((k, range, values))
        index += 1
      }
    }
    o.restoreState(iterations: Int(iterations[0]), slots: slots, total: model.parameters.count)
    return true
  }

  public static func load(_ model: Model, path: String, optimizer: Bool = false) throws {
    try load(
      model, from: HDF5File.read(contentsOf: URL(fileURLWithPath: path)), optimizer: optimizer)
  }
}
