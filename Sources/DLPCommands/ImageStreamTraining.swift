import DLP
import Foundation

/// `dlp train --dataset DIR` when the folder's decoded images exceed --memory-budget: trains
/// in this process with `ImageStreamBackend` (each batch decoded on worker threads while the
/// previous one trains), with the same file order, validation split, report and weights as the
/// in-memory path.
struct ImageStreamTraining {
  let arguments: TrainArguments
  let model: Model
  let train: ImageFolderLoader
  let test: ImageFolderLoader?
  let labelMode: LabelMode

  /// nil when the dataset is not an image folder, or its decoded images fit the budget.
  init?(arguments: TrainArguments, model: Model, preset: Preset?, inProcess: Bool) throws {
    guard let path = arguments.data.dataset, ImageDatasets.layout(path) != nil else { return nil }
    let options = try arguments.data.imageOptions(seed: arguments.job.seed, preset: preset)
    guard let (train, test) = try ImageDatasets.loaders(path, options: options) else { return nil }
    let budget = try arguments.data.memoryBudgetBytes()
    let bytes = train.decodedBytes + (test?.decodedBytes ?? 0)
    guard bytes > budget else { return nil }
    guard inProcess else {
      throw DLPError.config(
        "\(path) decodes to \(bytes / 1_000_000) MB, over --memory-budget \(arguments.data.memoryBudget); workers hold their data decoded: raise --memory-budget, or train in-process (which decodes batch by batch)"
      )
    }
    self.arguments = arguments
    self.model = model
    self.train = train
    self.test = test
    labelMode = options.labelMode
  }

  /// The labels of `files` as the model's loss wants them (one-hot for categorical losses).
  func targets(_ loader: ImageFolderLoader, _ files: [Int]) throws -> Tensor {
    let head = model.compiled!.heads[0]
    let y = try loader.folder.labelTensor(labelMode, rows: files)
    if y.rowWidth == 1 && head.targetWidth > 1 { return try toCategorical(labels: y, numClasses: head.width) }
    return y
  }

  func run() throws {
    let a = arguments
    if let w = a.loadWeights { try WeightsFile.load(model, from: w) }
    let count = Swift.min(a.data.samples ?? train.count, train.count)
    let splitAt = a.validationSplit > 0 ? Int(Double(count) * (1 - a.validationSplit)) : count
    guard splitAt > 0, splitAt <= count, a.validationSplit == 0 || splitAt < count else {
      throw DLPError.config(
        "validation_split \(a.validationSplit) leaves no training or no validation samples of \(count)")
    }
    let trainFiles = Array(0..<splitAt)
    let validationFiles = Array(splitAt..<count)
    var sources: [DataRole: ImageStreamBackend.Source] = [
      .train: .init(loader: train, files: trainFiles, targets: try targets(train, trainFiles))
    ]
    if !validationFiles.isEmpty {
      sources[.validation] = .init(loader: train, files: validationFiles, targets: try targets(train, validationFiles))
    }
    if let t = test {
      let all = Array(0..<t.count)
      sources[.test] = .init(loader: t, files: all, targets: try targets(t, all))
    }
    let preset = try a.model.preset_
    let options = FitOptions(
      epochs: a.epochs ?? preset?.defaultEpochs ?? 1, batchSize: a.batchSize ?? preset?.defaultBatchSize ?? 32,
      shuffle: !a.noShuffle, seed: a.job.seed)
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let backend = try ImageStreamBackend(model: model, sources: sources, batchSize: options.batchSize, threads: threads)
    if !a.job.quiet {
      printLine(
        "\(count) images of \(train.folder.root.path) (\(train.sampleShape)) decoded batch by batch: over --memory-budget \(a.data.memoryBudget)"
      )
    }
    let history = try Trainer.fit(
      model: model, backend: backend, trainCount: trainFiles.count, validationCount: validationFiles.count,
      options: options, progress: a.job.progress)
    var evaluation: [String: Double]?
    if let t = test, history.stoppedReason == nil {
      evaluation = try Trainer.evaluate(
        model: model, backend: backend, role: .test, count: t.count, batchSize: options.batchSize)
    }
    if let path = a.saveWeights { try WeightsFile.save(model, to: path) }
    try TrainingSession.Outcome(
      history: history, evaluation: evaluation, workers: 0, datasetName: train.folder.root.lastPathComponent
    ).finish(report: a.job.report)
  }
}
