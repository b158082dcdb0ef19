import Foundation

/// Runs the tasks of a validation sweep: each trains a FRESH model on its training partition,
/// with normalisation statistics fitted on that partition only, and validates it on its
/// validation partition.
public enum CrossValidation {
  /// Builds a compiled model whose weights come from the given seed.
  public typealias ModelFactory = (_ seed: UInt64) throws -> Model
  /// Makes the backend a task's steps run on, for its fresh model, its (normalised) `data` by
  /// role and the batch size: `LocalBackend` by default; a sweep's group of
  /// workers passes one that splits each batch among them (`GroupBackend`).
  public typealias BackendFactory =
    (_ model: Model, _ data: [DataRole: ArrayData], _ batchSize: Int) throws -> TrainingBackend

  /// Trains `makeModel(task.seed)` on the task's training rows of `data` for `options.epochs`
  /// epochs, validating on its validation rows after each epoch. With `normalize`, every input
  /// is standardised with a `Normalizer` fitted on the training rows only (no leak from the
  /// validation fold). Everything random is keyed by `task.seed`, so the result is the same
  /// whatever process (or group of processes, with `makeBackend`) runs the task.
  public static func run(
    task: FoldTask, data: ArrayData, makeModel: ModelFactory, options: CrossValidationOptions,
    normalize: Bool, makeBackend: BackendFactory? = nil
  ) throws -> FoldResult {
    let start = Date()
    let parts = try partitions(task: task, data: data, normalize: normalize)
    let model = try freshModel(makeModel, seed: task.seed, options: options)
    let validation = parts.validation.count > 0 ? parts.validation : nil
    var roles: [DataRole: ArrayData] = [.train: parts.train]
    if let v = validation { roles[.validation] = v }
    let backend =
      try makeBackend?(model, roles, options.batchSize)
      ?? LocalBackend(model: model, data: roles, batchSize: options.batchSize)
    let history = try Trainer.fit(
      model: model, backend: backend, trainCount: parts.train.count,
      validationCount: validation?.count ?? 0,
      options: options.fitOptions(seed: task.seed))
    var evaluation: [String: Double] = [:]
    if let v = validation {
      evaluation = finalValidation(history, epochs: options.epochs)
      if evaluation.isEmpty {
        // No completed epoch with validation logs (0 epochs, or stopped on a NaN): evaluate.
        evaluation = try Trainer.evaluate(
          model: model, backend: backend, role: .validation, count: v.count,
          batchSize: options.batchSize)
      }
    }
    return FoldResult(
      repeat: task.repeat, fold: task.fold, history: history, evaluation: evaluation,
      seconds: Date().timeIntervalSince(start))
  }

  /// The book's last step: a fresh model trained on ALL of `data` (normalisation fitted on it),
  /// then evaluated on `test` (normalised with the same statistics), when given.
  public static func trainFinal(
    data: ArrayData, test: ArrayData?, makeModel: ModelFactory, seed: UInt64,
    options: CrossValidationOptions,
    normalize: Bool, progress: ProgressPrinter = ProgressPrinter(mode: .silent)
  ) throws -> (model: Model, history: History, evaluation: [String: Double]?) {
    let finalSeed = KeyedRandom.key(seed, ValidationKeys.final)
    var train = data
    var testData = test
    if normalize {
      let norms = try fitNormalizers(train)
      train = try apply(norms, to: train)
      testData = try testData.map { try apply(norms, to: $0) }
    }
    let model = try freshModel(makeModel, seed: finalSeed, options: options)
    var roles: [DataRole: ArrayData] = [.train: train]
    if let t = testData { roles[.test] = t }
    let backend = try LocalBackend(
      model: model, data: roles, batchSize: options.batchSize)
    let history = try Trainer.fit(
      model: model, backend: backend, trainCount: train.count, validationCount: 0,
      options: options.fitOptions(seed: finalSeed), progress: progress)
    var evaluation: [String: Double]?
    if let t = testData, history.stoppedReason == nil {
      evaluation = try Trainer.evaluate(
        model: model, backend: backend, role: .test, count: t.count, batchSize: options.batchSize)
    }
    return (model, history, evaluation)
  }

  /// The task's training and validation rows, normalised (when asked) with statistics of the
  /// training rows only; `normalizers` holds one per input (empty without `normalize`).
  public static func partitions(task: FoldTask, data: ArrayData, normalize: Bool) throws
    -> (train: ArrayData, validation: ArrayData, normalizers: [Normalizer])
  {
    try task.validate(count: data.count)
    var train = try data.gather(task.trainIndices)
    var validation = try data.gather(task.validationIndices)
    guard normalize else { return (train, validation, []) }
    let norms = try fitNormalizers(train)
    train = try apply(norms, to: train)
    if validation.count > 0 { validation = try apply(norms, to: validation) }
    return (train, validation, norms)
  }

  static func fitNormalizers(_ data: ArrayData) throws -> [Normalizer] {
    try data.inputs.map { try Normalizer(fitting: $0) }
  }

  static func apply(_ norms: [Normalizer], to data: ArrayData) throws -> ArrayData {
    var out = data
    for (k, n) in norms.enumerated() { out.inputs[k] = try n.apply(data.inputs[k]) }
    return out
  }

  static func freshModel(_ makeModel: ModelFactory, seed: UInt64, options: CrossValidationOptions)
    throws -> Model
  {
    let model = try makeModel(seed)
    let c = try model.requireCompiled()
    // By layer position, not name: two models of one recipe get the same weights even when
    // the process named their layers differently (`dense_3` vs `dense`).
    if options.reinitializeWeights { model.reinitialize(seed: seed) }
    // A factory that hands back a model it trained before must not carry optimizer state over.
    if c.optimizer.iterations != 0 { c.optimizer.prepare(shard: 0..<model.parameters.count) }
    return model
  }

  /// The last epoch's `val_*` logs under their plain names, when every epoch completed.
  static func finalValidation(_ history: History, epochs: Int) -> [String: Double] {
    guard history.stoppedReason == nil, history.epochs.count == epochs, epochs > 0 else {
      return [:]
    }
    var out: [String: Double] = [:]
    for (k, v) in history.history where k.hasPrefix("val_") {
      if let last = v.last, v.count == epochs { out[String(k.dropFirst(4))] = last }
    }
    return out
  }
}

/// A compiled model as a Keras JSON document (architecture, layer names, compile settings):
/// builds fresh copies with stable layer names, whatever else the process has built. It is
/// what a coordinator ships to workers so every task trains the same model.
public struct ModelBlueprint: Sendable {
  public let document: JSONValue

  /// Captures `model`'s architecture and compile settings (not its weights).
  public init(_ model: Model) throws {
    guard model.compiled != nil else {
      throw DLPError.config("model '\(model.name)' must be compiled before it can be copied")
    }
    document = KerasModelWriter.json(model)
  }

  public init(document: JSONValue) { self.document = document }

  /// A fresh, compiled model with weights initialised from `seed`.
  public func make(seed: UInt64) throws -> Model {
    let (model, cc) = try KerasModelReader.read(document, seed: seed)
    guard let cc, !cc.losses.isEmpty else {
      throw DLPError.config("model blueprint has no compile_config loss")
    }
    try model.compile(keras: cc)
    return model
  }
}
