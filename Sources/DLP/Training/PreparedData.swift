import Foundation

/// Training and test data shaped for a compiled model.
public struct PreparedData {
  public var train: ArrayData
  public var test: ArrayData?
  public var datasetName: String
  public var contentHash: UInt64

  public init(train: ArrayData, test: ArrayData?, datasetName: String, contentHash: UInt64) {
    self.train = train
    self.test = test
    self.datasetName = datasetName
    self.contentHash = contentHash
  }
}

extension PreparedData {
  /// Reshapes samples to the model's input shape (when the element counts agree), one-hot
  /// encodes integer labels for categorical_crossentropy, and normalises features with
  /// statistics of the training data only when asked.
  public static func prepare(_ splits: DatasetSplits, for model: Model, normalize: Bool) throws -> PreparedData {
    let c = try model.compiled.orThrow(DLPError.config("model is not compiled"))
    guard model.inputs.count == 1, c.heads.count == 1 else {
      throw DLPError.config("named datasets feed single-input, single-output models; this model has \(model.inputs.count) inputs and \(c.heads.count) outputs")
    }
    let inputShape = model.inputs[0].shape
    let head = c.heads[0]
    // Reshapes are views: the samples keep the memory (and element type) they were loaded in.
    func shapeX(_ x: SampleArray) throws -> SampleArray {
      guard x.rowWidth == inputShape.reduce(1, *) else {
        throw DLPError.shape(
          "the model's input '\(model.inputs[0].node.layer.name)' expects samples of shape \(inputShape), the dataset '\(splits.name)' has samples of shape \(Array(x.shape.dropFirst()))")
      }
      return try x.reshaped(to: [x.rows] + inputShape)
    }
    func shapeY(_ y: SampleArray) throws -> SampleArray {
      if head.targetWidth == y.rowWidth { return try y.reshaped(to: [y.rows, head.targetWidth]) }
      if y.rowWidth == 1 && head.loss is CategoricalCrossentropy {
        return SampleArray(try toCategorical(labels: y.tensor(), numClasses: head.width))
      }
      throw DLPError.shape(
        "output '\(head.name)' with loss \(head.loss.name) expects \(head.targetWidth) target values per sample; dataset '\(splits.name)' has \(y.rowWidth)")
    }
    var train = try ArrayData(x: shapeX(splits.train.x), y: shapeY(splits.train.y))
    var test = try splits.test.map { try ArrayData(x: shapeX($0.x), y: shapeY($0.y)) }
    if normalize {
      let norm = try Normalizer(fitting: train.inputs[0])
      train.inputs[0] = try norm.apply(train.inputs[0])
      if var t = test { t.inputs[0] = try norm.apply(t.inputs[0]); test = t }
    }
    return PreparedData(train: train, test: test, datasetName: splits.name, contentHash: splits.contentHash)
  }

  /// The data by role for a hold-out `validationSplit` (the LAST fraction of the training
  /// samples, as Keras's validation_split); the same on the coordinator and every worker.
  public func roles(validationSplit: Double) throws -> [DataRole: ArrayData] {
    var roles: [DataRole: ArrayData] = [.train: train]
    if validationSplit > 0 {
      let splitAt = Int(Double(train.count) * (1 - validationSplit))
      guard splitAt > 0 && splitAt < train.count else {
        throw DLPError.config("validation_split \(validationSplit) leaves no training or no validation samples of \(train.count)")
      }
      roles[.validation] = try train.slice(splitAt..<train.count)
      roles[.train] = try train.slice(0..<splitAt)
    }
    if let t = test { roles[.test] = t }
    return roles
  }
}

extension Optional {
  public func orThrow(_ e: @autoclosure () -> Error) throws -> Wrapped {
    guard let v = self else { throw e() }
    return v
  }
}
