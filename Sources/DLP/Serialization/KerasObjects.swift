/// Keras's serialised objects (`{"module", "class_name", "config", "registered_name"}`) for
/// initialisers, regularisers and optimizers, both ways.
public enum KerasObjects {
  static func object(module: String, className: String, config: [String: JSONValue]) -> JSONValue {
    ["module": .string(module), "class_name": .string(className), "config": .object(config), "registered_name": nil]
  }

  public static func initializer(_ i: Initializer) -> JSONValue {
    object(module: "keras.initializers", className: i.kerasClassName, config: initializerConfig(i))
  }

  private static func initializerConfig(_ i: Initializer) -> [String: JSONValue] {
    switch i {
    case .seeded(let inner, let seed):
      var config = initializerConfig(inner)
      config["seed"] = JSONValue(Int(seed))
      return config
    case .glorotUniform, .glorotNormal, .heUniform, .heNormal, .lecunUniform: return ["seed": nil]
    case .constant(let c): return ["value": JSONValue(c)]
    case .randomUniform(let lo, let hi): return ["minval": JSONValue(lo), "maxval": JSONValue(hi), "seed": nil]
    case .randomNormal(let m, let s): return ["mean": JSONValue(m), "stddev": JSONValue(s), "seed": nil]
    case .orthogonal(let gain): return ["gain": JSONValue(gain), "seed": nil]
    case .zeros, .ones: return [:]
    }
  }

  public static func regularizer(_ r: Regularizer?) -> JSONValue {
    guard let r else { return nil }
    return object(module: "keras.regularizers", className: r.kerasClassName, config: r.kerasConfig)
  }

  public static func optimizer(_ o: Optimizer) -> JSONValue {
    var config = o.config()
    config["name"] = .string(o.kerasName)
    if let s = o.schedule { config["learning_rate"] = LearningRateSchedules.serialize(s) }
    return object(module: "keras.optimizers", className: o.kerasClassName, config: config)
  }

  /// Parses an initialiser given as a Keras object or a name (`"glorot_uniform"`).
  public static func parseInitializer(_ v: JSONValue?, default d: Initializer, context: String) throws -> Initializer {
    guard let v, !v.isNull else { return d }
    let plain = try parseUnseededInitializer(v, context: context)
    guard let s = v["config"]?["seed"], !s.isNull else { return plain }
    // Keras's draw_seed takes an int seed as a uint32 key word.
    guard let seed = s.int, (0...Int(UInt32.max)).contains(seed) else {
      throw DLPError.config("\(context): initializer seed \(s.serialized()) is not an integer in 0...2^32-1")
    }
    return plain.drawsKerasSeed ? .seeded(plain, seed: UInt32(seed)) : plain
  }

  private static func parseUnseededInitializer(_ v: JSONValue, context: String) throws -> Initializer {
    let name = v.string ?? v["class_name"]?.string ?? ""
    let c = v["config"]
    func f(_ k: String, _ def: Float) -> Float { c?[k]?.double.map(Float.init) ?? def }
    switch name {
    case "Zeros", "zeros": return .zeros
    case "Ones", "ones": return .ones
    case "Constant", "constant": return .constant(f("value", 0))
    case "GlorotUniform", "glorot_uniform": return .glorotUniform
    case "GlorotNormal", "glorot_normal": return .glorotNormal
    case "HeUniform", "he_uniform": return .heUniform
    case "HeNormal", "he_normal": return .heNormal
    case "LecunUniform", "lecun_uniform": return .lecunUniform
    case "Orthogonal", "orthogonal", "OrthogonalInitializer": return .orthogonal(gain: f("gain", 1))
    case "RandomUniform", "random_uniform", "uniform": return .randomUniform(min: f("minval", -0.05), max: f("maxval", 0.05))
    case "RandomNormal", "random_normal", "normal": return .randomNormal(mean: f("mean", 0), stddev: f("stddev", 0.05))
    default: throw DLPError.config("\(context): unsupported initializer '\(name)'")
    }
  }

  /// Parses a regulariser given as a Keras object or a name (`"l2"`).
  public static func parseRegularizer(_ v: JSONValue?, context: String) throws -> Regularizer? {
    guard let v, !v.isNull else { return nil }
    let name = v.string ?? v["class_name"]?.string ?? ""
    let c = v["config"]
    func f(_ k: String, _ def: Float) -> Float { c?[k]?.double.map(Float.init) ?? def }
    switch name {
    case "L1", "l1": return .l1(f("l1", 0.01))
    case "L2", "l2": return .l2(f("l2", 0.01))
    case "L1L2", "l1_l2": return .l1l2(l1: f("l1", 0), l2: f("l2", 0))
    default: throw DLPError.config("\(context): unsupported regularizer '\(name)'")
    }
  }

  /// Parses an optimizer given as a Keras object or a name; `learningRate` overrides.
  public static func parseOptimizer(_ v: JSONValue?, learningRate: Float? = nil) throws -> Optimizer {
    guard let v, !v.isNull else { return try Optimizers.named("rmsprop", learningRate: learningRate) }
    if let s = v.string { return try Optimizers.named(s, learningRate: learningRate) }
    let name = (v["class_name"]?.string ?? "").lowercased()
    let c = v["config"]
    func f(_ k: String) -> Float? { c?[k]?.double.map(Float.init) }
    // A learning-rate schedule object (the rate a function of the step count), unless a
    // plain rate overrides it.
    var schedule: LearningRateSchedule?
    if let lr = c?["learning_rate"], lr.object != nil, learningRate == nil {
      schedule = try LearningRateSchedules.parse(lr, context: "optimizer '\(name)'")
    }
    // Keras's base-optimizer extras DLP does not implement: refuse rather than ignore them.
    for key in ["weight_decay", "clipnorm", "clipvalue", "global_clipnorm", "loss_scale_factor", "gradient_accumulation_steps"] {
      if let v = c?[key], !v.isNull {
        throw DLPError.config("optimizer '\(name)': '\(key)' = \(v.serialized()) is not supported yet")
      }
    }
    if c?["use_ema"]?.bool == true { throw DLPError.config("optimizer '\(name)': use_ema is not supported yet") }
    let lr = learningRate ?? f("learning_rate")
    let optimizer: Optimizer
    switch name {
    case "sgd":
      optimizer = SGD(learningRate: lr ?? 0.01, momentum: f("momentum") ?? 0, nesterov: c?["nesterov"]?.bool ?? false)
    case "rmsprop":
      if (f("momentum") ?? 0) != 0 || c?["centered"]?.bool == true {
        throw DLPError.config("optimizer RMSprop: momentum and centered are not supported yet")
      }
      optimizer = RMSprop(learningRate: lr ?? 0.001, rho: f("rho") ?? 0.9, epsilon: f("epsilon") ?? 1e-7)
    case "adam":
      if c?["amsgrad"]?.bool == true { throw DLPError.config("optimizer Adam: amsgrad is not supported yet") }
      optimizer = Adam(
        learningRate: lr ?? 0.001, beta1: f("beta_1") ?? 0.9, beta2: f("beta_2") ?? 0.999, epsilon: f("epsilon") ?? 1e-7)
    default: throw DLPError.config("unsupported optimizer '\(v["class_name"]?.string ?? name)'; expected SGD, RMSprop or Adam")
    }
    optimizer.schedule = schedule
    return optimizer
  }
}
