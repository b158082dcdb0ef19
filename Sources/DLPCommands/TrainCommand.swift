import ArgumentParser
import DLP
import DLPCluster
import Foundation

/// The flags of a training job, shared by `dlp train` and `dlp-coordinator`.
struct TrainArguments: ParsableArguments {
  @OptionGroup var model: ModelOptions
  @OptionGroup var data: DataOptions
  @OptionGroup var job: RunOptions

  @Option(help: "Epochs (default: the preset's, else 1).") var epochs: Int?
  @Option(help: "Global batch size (default: the preset's, else 32).") var batchSize: Int?
  @Option(help: "Hold out this last fraction of the training data for validation.") var validationSplit: Double = 0
  @Flag(help: "Do not shuffle the training data each epoch.") var noShuffle = false
  @Option(help: "Load initial weights from an .npz written by --save-weights.") var loadWeights: String?
  @Option(help: "Write the trained weights as .npz (LAYER/WEIGHT arrays).") var saveWeights: String?

  func validate() throws {
    if let e = epochs, e < 0 { throw ValidationError("--epochs must be >= 0") }
    if let b = batchSize, b <= 0 { throw ValidationError("--batch-size must be positive") }
    if !(0..<1).contains(validationSplit) { throw ValidationError("--validation-split must be in [0, 1)") }
  }

  /// Builds everything and trains where `placement` says.
  func execute(placement: Placement) throws {
    let inProcess = placement == .inProcess
    configureEngine(threads: job.threads ?? (inProcess ? nil : 1))
    let (m, preset) = try model.makeModel(seed: job.seed)
    let datasetName = data.dataset ?? preset?.defaultDataset
    // Images in class folders too big to hold decoded: decoded batch by batch while training.
    if let stream = try ImageStreamTraining(arguments: self, model: m, preset: preset, inProcess: inProcess) {
      try stream.run()
      return
    }
    let splits = try data.load(default: datasetName, seed: job.seed, preset: preset)
    let normalize = preset?.normalize ?? false
    let prepared = try PreparedData.prepare(splits, for: m, normalize: normalize)
    if let w = loadWeights { try WeightsFile.load(m, from: w) }
    let options = FitOptions(
      epochs: epochs ?? preset?.defaultEpochs ?? 1, batchSize: batchSize ?? preset?.defaultBatchSize ?? 32,
      shuffle: !noShuffle, seed: job.seed)
    var description = JobDescription(
      dataset: datasetName ?? "", samples: data.samples, numWords: data.numWords, targetColumn: data.targetColumn,
      normalize: normalize, validationSplit: validationSplit, batchSize: options.batchSize, seed: job.seed,
      collective: job.allreduce)
    description.images = try data.imageOptions(seed: job.seed, preset: preset)
    let session = TrainingSession(
      model: m, data: prepared, options: options, validationSplit: validationSplit, run: job, placement: placement,
      description: description)
    let outcome = try session.execute()
    if let path = saveWeights { try WeightsFile.save(m, to: path) }
    try outcome.finish(report: job.report)
  }
}

/// Where training steps run.
enum Placement: Equatable {
  case inProcess
  /// N worker processes on this machine, started and stopped by this process.
  case localWorkers(Int)
  /// Workers on other hosts connect to `bind`.
  case external(bind: String, expectWorkers: Int, shipData: Bool)
}

/// `dlp train`: fit a model on a dataset, evaluate it on the test split, write the report.
struct TrainCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "train", abstract: "Train a model.")

  @OptionGroup var arguments: TrainArguments

  func run() throws {
    try reportingErrors {
      let n = arguments.job.workers
      try arguments.execute(placement: n == 0 ? .inProcess : .localWorkers(n))
    }
  }
}

/// Flags about where and how a job runs, shared by train, evaluate and kfold.
struct RunOptions: ParsableArguments {
  @Option(help: "Seed for weights, shuffling and dropout.") var seed: UInt64 = 0
  @Option(help: "Worker processes (0: train in this process).") var workers: Int = 0
  @Option(help: "BLAS threads per process (default: all cores in-process, 1 per worker).") var threads: Int?
  @Option(help: "Collective for gradients: central or ring.") var allreduce: String = "ring"
  @Option(
    help: "How the ring moves gradients and weights (train, evaluate): auto (shared memory when every worker is on this host, else tcp), tcp, or shm. K-fold groups use tcp.")
  var transport: String = "auto"
  @Option(help: "Write the report JSON here (atomically).") var report: String?
  @Flag(help: "No progress output.") var quiet = false

  func validate() throws {
    if workers < 0 { throw ValidationError("--workers must be >= 0") }
    if let t = threads, t < 1 { throw ValidationError("--threads must be >= 1") }
    if !["central", "ring"].contains(allreduce) { throw ValidationError("--allreduce must be central or ring") }
    if !["auto", "tcp", "shm"].contains(transport) { throw ValidationError("--transport must be auto, tcp or shm") }
    if transport == "shm" && allreduce != "ring" { throw ValidationError("--transport shm applies to --allreduce ring") }
  }

  var progress: ProgressPrinter { ProgressPrinter(mode: quiet ? .silent : nil) }
}
