/// Makes layers from Keras configs by `class_name`. Each supported layer registers a factory;
/// an unknown class is an error that names it.
public enum LayerRegistry {
  public typealias Factory = (_ config: LayerConfig) throws -> Layer

  nonisolated(unsafe) static var factories: [String: Factory] = [
    "Dense": { c in
      try Dense(
        c.int("units"), activation: c.activation("activation"), useBias: c.bool("use_bias", default: true),
        kernelInitializer: c.initializer("kernel_initializer", default: .glorotUniform),
        biasInitializer: c.initializer("bias_initializer", default: .zeros),
        kernelRegularizer: c.regularizer("kernel_regularizer"), biasRegularizer: c.regularizer("bias_regularizer"),
        name: c.name)
    },
    "Dropout": { c in try Dropout(Float(c.double("rate")), seed: c.optionalInt("seed"), name: c.name) },
    "Flatten": { c in Flatten(name: c.name) },
    "Activation": { c in ActivationLayer(try c.activation("activation"), name: c.name) },
    "Conv2D": { c in try Conv2D(config: c) },
    "MaxPooling2D": { c in try MaxPooling2D(config: c) },
    "AveragePooling2D": { c in try AveragePooling2D(config: c) },
    "GlobalAveragePooling2D": { c in
      try c.requireChannelsLast()
      return try GlobalAveragePooling2D(keepdims: c.bool("keepdims", default: false), name: c.name)
    },
    "GlobalMaxPooling2D": { c in
      try c.requireChannelsLast()
      return try GlobalMaxPooling2D(keepdims: c.bool("keepdims", default: false), name: c.name)
    },
    "Concatenate": { c in
      guard let v = c.json["axis"], !v.isNull else { return Concatenate(name: c.name) }
      return Concatenate(axis: try c.int("axis"), name: c.name)
    },
    "Add": { c in Add(name: c.name) },
    "Reshape": { c in try Reshape(config: c) },
    // The vision chapter.
    "BatchNormalization": { c in try BatchNormalization(config: c) },
    "Rescaling": { c in try Rescaling(config: c) },
    "Resizing": { c in try Resizing(config: c) },
    "RandomFlip": { c in try RandomFlip(config: c) },
    "RandomRotation": { c in try RandomRotation(config: c) },
    "RandomZoom": { c in try RandomZoom(config: c) },
    "RandomTranslation": { c in try RandomTranslation(config: c) },
    "RandomContrast": { c in try RandomContrast(config: c) },
    "SeparableConv2D": { c in try SeparableConv2D(config: c) },
    "Conv2DTranspose": { c in try Conv2DTranspose(config: c) },
    // Sequence models (the book's chapters on text and timeseries).
    "Embedding": { c in try Embedding(config: c) },
    "SimpleRNN": { c in try SimpleRNN(config: c) },
    "LSTM": { c in try LSTM(config: c) },
    "GRU": { c in try GRU(config: c) },
    "Bidirectional": { c in try Bidirectional(config: c) },
    "Conv1D": { c in try Conv1D(config: c) },
    "MaxPooling1D": { c in try MaxPooling1D(config: c) },
    "AveragePooling1D": { c in try AveragePooling1D(config: c) },
    "GlobalMaxPooling1D": { c in
      try c.requireChannelsLast()
      return GlobalMaxPooling1D(keepdims: try c.bool("keepdims", default: false), name: c.name)
    },
    "GlobalAveragePooling1D": { c in
      try c.requireChannelsLast()
      return GlobalAveragePooling1D(keepdims: try c.bool("keepdims", default: false), name: c.name)
    },
  ]

  /// Registers (or replaces) the factory for a Keras class name.
  public static func register(_ className: String, _ factory: @escaping Factory) {
    factories[className] = factory
  }

  public static func make(className: String, config: JSONValue) throws -> Layer {
    guard let factory = factories[className] else {
      throw DLPError.config(
        "unsupported layer class '\(className)'; supported: \(factories.keys.sorted().joined(separator: ", ")), InputLayer")
    }
    let c = LayerConfig(className: className, json: config)
    let layer = try factory(c)
    layer.trainable = config["trainable"]?.bool ?? true
    return layer
  }
}

/// Typed access to one layer's Keras config, with errors that name the layer and the key.
public struct LayerConfig {
  public let className: String
  public let json: JSONValue

  public var name: String? { json["name"]?.string }
  var context: String { "layer '\(name ?? "?")' (\(className))" }

  func missing(_ key: String, _ what: String) -> DLPError {
    .config("\(context): key '\(key)' must be \(what), got \(json[key].map { $0.serialized() } ?? "nothing")")
  }

  public func int(_ key: String) throws -> Int {
    guard let v = json[key]?.int else { throw missing(key, "an integer") }
    return v
  }

  public func optionalInt(_ key: String) -> Int? { json[key]?.int }

  public func double(_ key: String) throws -> Double {
    guard let v = json[key]?.double else { throw missing(key, "a number") }
    return v
  }

  public func bool(_ key: String, default d: Bool) throws -> Bool {
    guard let v = json[key], !v.isNull else { return d }
    guard let b = v.bool else { throw missing(key, "true or false") }
    return b
  }

  public func string(_ key: String, default d: String) throws -> String {
    guard let v = json[key], !v.isNull else { return d }
    guard let s = v.string else { throw missing(key, "a string") }
    return s
  }

  /// A list of integers, or one integer repeated `count` times (Keras's kernel_size: 3 or [3, 3]).
  public func ints(_ key: String, count: Int, default d: [Int]? = nil) throws -> [Int] {
    guard let v = json[key], !v.isNull else {
      if let d { return d }
      throw missing(key, "an integer or a list of \(count) integers")
    }
    if let i = v.int { return Array(repeating: i, count: count) }
    guard let a = v.array?.compactMap(\.int), a.count == count else { throw missing(key, "a list of \(count) integers") }
    return a
  }

  /// A shape with the batch axis dropped (`[null, 28, 28]` -> `[28, 28]`).
  public func shape(_ key: String) throws -> [Int]? {
    guard let v = json[key], !v.isNull else { return nil }
    guard let a = v.array else { throw missing(key, "a shape list") }
    let dims = a.dropFirst().map(\.int)
    guard dims.allSatisfy({ $0 != nil && $0! > 0 }) else {
      throw DLPError.config("\(context): '\(key)' = \(v.serialized()) has unknown or non-positive dimensions; DLP needs fixed shapes")
    }
    try ShapeLimits.check(dims.map { $0! }, "\(context): '\(key)'")
    return dims.map { $0! }
  }

  public func activation(_ key: String) throws -> Activation {
    guard let v = json[key], !v.isNull else { return .linear }
    guard let s = v.string else { throw missing(key, "an activation name") }
    do { return try Activation(kerasName: s) } catch let DLPError.config(m) { throw DLPError.config("\(context): \(m)") }
  }

  public func initializer(_ key: String, default d: Initializer) throws -> Initializer {
    try KerasObjects.parseInitializer(json[key], default: d, context: context)
  }

  public func regularizer(_ key: String) throws -> Regularizer? {
    try KerasObjects.parseRegularizer(json[key], context: context)
  }
}
