import ArgumentParser
import DLP
import Foundation

/// `--dataset`, `--samples` and how a dataset is fitted to a model's input and loss.
public struct DataOptions: ParsableArguments {
  @Option(help: "fashion_mnist, mnist, boston_housing, imdb, reuters, or a path (IDX folder, .npz, .csv).")
  public var dataset: String?

  @Option(help: "Use only the first N training samples.")
  public var samples: Int?

  @Option(help: "Vocabulary size for imdb/reuters (num_words).")
  public var numWords: Int = 10000

  @Option(help: "Target column of a CSV dataset (default: the last).")
  public var targetColumn: String?

  public init() {}

  public func validate() throws {
    if let s = samples, s <= 0 { throw ValidationError("--samples must be positive") }
  }

  public func load(default name: String?) throws -> DatasetSplits {
    guard let name = dataset ?? name else { throw DLPError.data("give a dataset: --dataset NAME|PATH") }
    return try DatasetCatalog.load(
      name, options: DatasetOptions(numWords: numWords, samples: samples, targetColumn: targetColumn))
  }
}

/// Training and test data shaped for a compiled model.
public struct PreparedData {
  public var train: ArrayData
  public var test: ArrayData?
  public var datasetName: String
  public var contentHash: UInt64
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
    func shapeX(_ x: Tensor) throws -> Tensor {
      guard x.rowWidth == inputShape.reduce(1, *) else {
        throw DLPError.shape(
          "the model's input '\(model.inputs[0].node.layer.name)' expects samples of shape \(inputShape), the dataset '\(splits.name)' has samples of shape \(Array(x.shape.dropFirst()))")
      }
      return try x.reshaped(to: [x.shape[0]] + inputShape)
    }
    func shapeY(_ y: Tensor) throws -> Tensor {
      if head.targetWidth == y.rowWidth { return try y.reshaped(to: [y.shape[0], head.targetWidth]) }
      if y.rowWidth == 1 && head.loss is CategoricalCrossentropy {
        return try toCategorical(labels: y, numClasses: head.width)
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
}

extension Optional {
  func orThrow(_ e: @autoclosure () -> Error) throws -> Wrapped {
    guard let v = self else { throw e() }
    return v
  }
}
