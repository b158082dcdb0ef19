import ArgumentParser
import DLP
import DLPCluster
import DLPTransport
import Foundation

/// The flags of a training job, shared by `dlp train` and `dlp-coordinator`.
struct TrainArguments: ParsableArguments {
  @OptionGroup var model: ModelOptions
  @OptionGroup var data: DataOptions
  @OptionGroup var job: RunOptions
  @OptionGroup var checkpoint: CheckpointFlags
  @OptionGroup var callbacks: CallbackOptions

  @Option(help: "Epochs (default: the preset's, else 1).") var epochs: Int?
  @Option(help: "Global batch size (default: the preset's, else 32).") var batchSize: Int?
  @Option(help: "Hold out this last fraction of the training data for validation.") var validationSplit: Double = 0
  @Flag(help: "Do not shuffle the training data each epoch.") var noShuffle = false
  @Option(help: "Load initial weights: an .npz written by --save-weights, or Keras's .weights.h5.") var loadWeights: String?
  @Option(help: "Write the trained weights: .npz (LAYER/WEIGHT arrays) or .weights.h5 (Keras's layout).") var saveWeights: String?
  @Option(help: "Write the trained model as a Keras 3 .keras file (keras.saving.load_model opens it).") var saveModel: String?

  func validate() throws {
    if let e = epochs, e < 0 { throw ValidationError("--epochs must be >= 0") }
    if let b = batchSize, b <= 0 { throw ValidationError("--batch-size must be positive") }
    if !(0..<1).contains(validationSplit) { throw ValidationError("--validation-split must be in [0, 1)") }
    if let path = saveModel, !path.hasSuffix(".keras") {
      throw ValidationError("--save-model writes a Keras .keras file; the path must end in .keras. Received: \(path)")
    }
  }

  /// Builds everything and trains where `placement` says.
  func execute(placement: Placement) throws {
    let inProcess = placement == .inProcess
    configureEngine(threads: job.threads ?? (inProcess ? nil : 1))
    let (m, preset) = try model.makeModel(seed: job.seed, sequenceLength: data.sequenceLength)
    let datasetName = data.dataset ?? preset?.defaultDataset
    // Images in class folders too big to hold decoded: decoded batch by batch while training.
    if let stream = try ImageStreamTraining(arguments: self, model: m, preset: preset, inProcess: inProcess) {
      try stream.run()
      return
    }
    let splits = try data.load(default: datasetName, seed: job.seed, preset: preset)
    // Timeseries windows bring their own validation windows (the last rows of train).
    let validationSplit = self.validationSplit > 0 ? self.validationSplit : splits.validationSplit ?? 0
    let normalize = preset?.normalize ?? false
    let prepared = try PreparedData.prepare(splits, for: m, normalize: normalize)
    if let w = loadWeights { try WeightsFile.load(m, from: w) }
    // A batch bigger than the data is one batch of all of it (as in Keras); clamping keeps the
    // buffers sized batch x width from overflowing (--batch-size 9223372036854775807).
    let requestedBatch = batchSize ?? preset?.defaultBatchSize ?? 32
    let options = FitOptions(
      epochs: epochs ?? preset?.defaultEpochs ?? 1,
      batchSize: FitOptions.effectiveBatchSize(requestedBatch, rows: prepared.largestSplit),
      shuffle: !noShuffle, seed: job.seed)
    var description = JobDescription(
      dataset: datasetName ?? "", samples: data.samples, numWords: data.numWords, targetColumn: data.targetColumn,
      normalize: normalize, validationSplit: validationSplit, batchSize: options.batchSize, seed: job.seed,
      collective: job.allreduce.description)
    description.images = try data.imageOptions(seed: job.seed, preset: preset)
    let read = data.datasetOptions(preset: preset)
    (description.sequenceLength, description.timeseries) = (read.sequenceLength, read.timeseries)
    let flags = try resultFlags(dataset: datasetName, options: options)
    var session = TrainingSession(
      model: m, data: prepared, options: options, validationSplit: validationSplit, run: job, placement: placement,
      description: description, callbacks: try callbacks.make())
    session.checkpoints = try checkpoint.store()
    session.checkpointEvery = checkpoint.checkpointEvery
    session.flags = flags
    session.resume = try checkpoint.resumePoint(flags: flags)
    var outcome = try session.execute()
    outcome.baselines = splits.baselines
    if let path = saveWeights { try WeightsFile.save(m, to: path) }
    if let path = saveModel { try KerasArchive.save(m, to: path, includeOptimizer: outcome.optimizerStateHeld) }
    try outcome.finish(report: job.report)
  }
}

extension TrainArguments {
  /// The flags that decide the job's result, as a checkpoint records them: a resumed job must
  /// give the same (where it runs, on how many workers, and how often it checkpoints may
  /// change). Files are named by their content, so a moved model file still matches.
  func resultFlags(dataset: String?, options: FitOptions) throws -> [String: String] {
    var f: [String: String] = [
      "epochs": String(options.epochs), "batch-size": String(options.batchSize), "seed": String(job.seed),
      "validation-split": String(validationSplit), "shuffle": String(options.shuffle),
      "num-words": String(data.numWords),
    ]
    f["preset"] = model.preset
    f["model"] = try model.modelPath.map(Self.contentTag)
    f["optimizer"] = model.optimizer
    f["learning-rate"] = model.learningRate.map { String($0) }
    f["loss"] = model.loss
    f["metrics"] = model.metrics
    f["dataset"] = dataset
    f["samples"] = data.samples.map(String.init)
    f["target-column"] = data.targetColumn
    f["sequence-length"] = data.sequenceLength.map(String.init)
    f["timeseries"] = data.datasetOptions(preset: try model.preset_).timeseries.map { t in
      "\(t.target)/\(t.sequenceLength)/\(t.samplingRate)/\(t.sequenceStride)/\(t.resolvedDelay)/\(t.trainFraction)/\(t.validationFraction)"
    }
    f["load-weights"] = try loadWeights.map(Self.contentTag)
    return f
  }

  /// `xxh64:HEX` of a file's bytes.
  static func contentTag(_ path: String) throws -> String {
    let bytes = try FileIO.readBytes(URL(fileURLWithPath: path))
    return "xxh64:" + String(bytes.withUnsafeBytes { XXH64.hash($0) }, radix: 16)
  }
}

/// Where training steps run.
enum Placement: Equatable {
  case inProcess
  /// N worker processes on this machine, started and stopped by this process.
  case localWorkers(Int)
  /// Workers on other hosts connect to `bind`, secured by `security`.
  case external(bind: String, expectWorkers: Int, shipData: Bool, security: SecurityOptions)
}

/// `dlp train`: fit a model on a dataset, evaluate it on the test split, write the report.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a model.")

  @OptionGroup var arguments: TrainArguments

  func run() throws {
    try reportingErrors {
      let n = arguments.job.workers
      if n > 0 && arguments.job.insecure {
        BindPolicy.warn("--insecure: the \(n) local workers talk in plain text on loopback, where every user of this host can reach them")
      }
      try arguments.execute(placement: n == 0 ? .inProcess : .localWorkers(n))
    }
  }
}
