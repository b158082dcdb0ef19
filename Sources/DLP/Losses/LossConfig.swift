/// Losses in Keras configs, both ways: a name (`"sparse_categorical_crossentropy"`), a
/// function (`{"class_name": "function", "config": NAME}`) or a loss object with its
/// arguments (`{"module": "keras.losses", "class_name": "SparseCategoricalCrossentropy",
/// "config": {"from_logits": true, ...}}`, what `compile(loss=SparseCategoricalCrossentropy(
/// from_logits=True))` saves). An argument Keras's class does not have is refused by name; one
/// DLP does not implement is refused unless it has Keras's default.
extension Losses {
  public static func parse(_ v: JSONValue, context: String) throws -> any Loss {
    if let s = v.string { return try named(s) }
    guard let cls = v["class_name"]?.string else {
      throw DLPError.config("\(context): loss \(v.serialized()) is neither a name nor a Keras loss object")
    }
    if cls == "function", let f = v["config"]?.string { return try named(f) }
    let c = try KerasArguments(v["config"], context: "\(context): \(cls)")
    // Every Keras loss takes these; DLP sums per-sample losses and divides by the batch size,
    // which is Keras's default reduction.
    try c.requireDefault(
      "reduction", ["sum_over_batch_size"], why: "is not supported (only Keras's default, sum_over_batch_size)")
    try c.requireDefault("dtype", ["float32"])
    _ = try c.string("name", default: "")
    switch cls {
    case "SparseCategoricalCrossentropy":
      try c.allow(["from_logits", "ignore_class", "reduction", "axis", "name", "dtype"])
      try c.requireDefault("axis", [-1])
      // Keras averages over the labels kept in each batch, a count no single worker knows.
      try c.requireDefault("ignore_class", [], why: "is not supported yet")
      return SparseCategoricalCrossentropy(fromLogits: try c.bool("from_logits", default: false))
    case "CategoricalCrossentropy", "BinaryCrossentropy":
      try c.allow(["from_logits", "label_smoothing", "axis", "reduction", "name", "dtype"])
      try c.requireDefault("axis", [-1])
      let smoothing = try c.float("label_smoothing", default: 0)
      guard (0...1).contains(smoothing) else {
        throw DLPError.config(
          "\(context): \(cls) label_smoothing must be in [0, 1]. Received: label_smoothing=\(smoothing)")
      }
      let logits = try c.bool("from_logits", default: false)
      return cls == "CategoricalCrossentropy"
        ? CategoricalCrossentropy(fromLogits: logits, labelSmoothing: smoothing) as any Loss
        : BinaryCrossentropy(fromLogits: logits, labelSmoothing: smoothing)
    case "MeanSquaredError", "MeanAbsoluteError":
      try c.allow(["reduction", "name", "dtype"])
      return cls == "MeanSquaredError" ? MeanSquaredError() as any Loss : MeanAbsoluteError()
    default:
      throw DLPError.config(
        "\(context): unsupported loss \(cls); expected SparseCategoricalCrossentropy, CategoricalCrossentropy, BinaryCrossentropy, MeanSquaredError or MeanAbsoluteError"
      )
    }
  }

  /// The loss as a compile config holds it: its name when it has Keras's default arguments,
  /// else a loss object with them.
  public static func serialize(_ loss: any Loss) -> JSONValue {
    let base: [String: JSONValue] = ["reduction": "sum_over_batch_size", "name": .string(loss.name)]
    switch loss {
    case let l as SparseCategoricalCrossentropy where l.fromLogits:
      return object("SparseCategoricalCrossentropy", base.merging(["from_logits": true, "ignore_class": nil]) { $1 })
    case let l as CategoricalCrossentropy where l.fromLogits || l.labelSmoothing != 0:
      return object(
        "CategoricalCrossentropy",
        base.merging(["from_logits": .bool(l.fromLogits), "label_smoothing": JSONValue(l.labelSmoothing), "axis": -1]) {
          $1
        })
    case let l as BinaryCrossentropy where l.fromLogits || l.labelSmoothing != 0:
      return object(
        "BinaryCrossentropy",
        base.merging(["from_logits": .bool(l.fromLogits), "label_smoothing": JSONValue(l.labelSmoothing), "axis": -1]) {
          $1
        })
    default:
      return .string(loss.name)
    }
  }

  private static func object(_ cls: String, _ config: [String: JSONValue]) -> JSONValue {
    KerasObjects.object(module: "keras.losses", className: cls, config: config)
  }
}
