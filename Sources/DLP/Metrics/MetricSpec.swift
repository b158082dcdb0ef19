/// A metric as compile takes it: a Keras name (`"accuracy"` becomes binary, sparse or
/// categorical accuracy according to the output's loss, as Keras resolves it) or a metric
/// object (`SparseCategoricalAccuracy(name="acc")`, from a Keras config).
public enum MetricSpec: Sendable {
  case name(String)
  case metric(any Metric)

  func resolve(loss: any Loss, outputWidth: Int) throws -> any Metric {
    switch self {
    case .name(let n): return try Metrics.named(n, loss: loss, outputWidth: outputWidth)
    case .metric(let m): return m
    }
  }
}

extension Metrics {
  /// Keras's class for a metric DLP computes, and whether larger is better (Keras's
  /// `_direction`, which `mode="auto"` callbacks read).
  static func kerasClass(_ m: any Metric) -> (name: String, up: Bool) {
    switch m {
    case is BinaryAccuracy: return ("BinaryAccuracy", true)
    case is SparseCategoricalAccuracy: return ("SparseCategoricalAccuracy", true)
    case is CategoricalAccuracy: return ("CategoricalAccuracy", true)
    case let e as MeanError: return (e.squared ? "MeanSquaredError" : "MeanAbsoluteError", false)
    case is Precision: return ("Precision", true)
    case is Recall: return ("Recall", true)
    case is AUC: return ("AUC", true)
    default: return (String(describing: type(of: m)), true)
    }
  }

  /// Keras metric names that `Metrics.named` resolves (written back as strings).
  static let aliases: Set<String> = [
    "accuracy", "acc", "binary_accuracy", "sparse_categorical_accuracy", "categorical_accuracy", "mae",
    "mean_absolute_error", "mse", "mean_squared_error", "precision", "recall", "auc",
  ]

  /// Parses a metric of a compile config: a name, Keras's `{"class_name": "function", "config":
  /// NAME}`, or a metric object whose arguments DLP supports (others are refused by name).
  static func parse(_ v: JSONValue, context: String) throws -> MetricSpec {
    if let s = v.string { return .name(s) }
    guard let cls = v["class_name"]?.string else {
      throw DLPError.config("\(context): metric \(v.serialized()) is neither a name nor a Keras metric object")
    }
    if cls == "function", let f = v["config"]?.string { return .name(f) }
    let c = try KerasArguments(v["config"], context: "\(context): metric \(cls)")
    try c.requireDefault("dtype", ["float32"])
    func named(_ defaultName: String) throws -> String { try c.string("name", default: defaultName) }
    switch cls {
    case "BinaryAccuracy":
      try c.allow(["name", "dtype", "threshold"])
      try c.requireDefault("threshold", [0.5])
      return .metric(BinaryAccuracy(name: try named("binary_accuracy")))
    case "SparseCategoricalAccuracy":
      try c.allow(["name", "dtype"])
      return .metric(SparseCategoricalAccuracy(name: try named("sparse_categorical_accuracy")))
    case "CategoricalAccuracy":
      try c.allow(["name", "dtype"])
      return .metric(CategoricalAccuracy(name: try named("categorical_accuracy")))
    case "MeanAbsoluteError":
      try c.allow(["name", "dtype"])
      return .metric(MeanError(name: try named("mean_absolute_error"), squared: false))
    case "MeanSquaredError":
      try c.allow(["name", "dtype"])
      return .metric(MeanError(name: try named("mean_squared_error"), squared: true))
    case "Precision", "Recall":
      try c.allow(["name", "dtype", "thresholds", "top_k", "class_id"])
      try c.requireDefault("thresholds", [0.5, [0.5]])
      try c.requireDefault("top_k", [])
      try c.requireDefault("class_id", [])
      let n = try named(cls.lowercased())
      return .metric(cls == "Precision" ? Precision(name: n) as any Metric : Recall(name: n))
    case "AUC":
      try c.allow([
        "name", "dtype", "num_thresholds", "curve", "summation_method", "thresholds", "multi_label", "num_labels",
        "label_weights", "from_logits",
      ])
      try c.requireDefault("num_thresholds", [200])
      try c.requireDefault("curve", ["ROC"])
      try c.requireDefault("summation_method", ["interpolation"])
      try c.requireDefault("thresholds", [])
      try c.requireDefault("multi_label", [false])
      try c.requireDefault("num_labels", [])
      try c.requireDefault("label_weights", [])
      try c.requireDefault("from_logits", [false])
      return .metric(AUC(name: try named("auc")))
    default:
      throw DLPError.config(
        "\(context): unsupported metric \(cls); expected BinaryAccuracy, CategoricalAccuracy, SparseCategoricalAccuracy, MeanAbsoluteError, MeanSquaredError, Precision, Recall or AUC"
      )
    }
  }

  /// A metric as a compile config holds it: its name when that name resolves back to it, else
  /// a Keras metric object.
  static func serialize(_ m: any Metric, loss: any Loss, outputWidth: Int) -> JSONValue {
    if aliases.contains(m.name), let r = try? named(m.name, loss: loss, outputWidth: outputWidth),
      kerasClass(r).name == kerasClass(m).name
    {
      return .string(m.name)
    }
    let cls = kerasClass(m).name
    return KerasObjects.object(
      module: "keras.metrics", className: cls, config: ["name": .string(m.name), "dtype": "float32"])
  }
}
