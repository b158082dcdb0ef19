import ArgumentParser
import DLP
import DLPCluster

/// `dlp evaluate`: loss and metrics of saved weights on a dataset's test split.
struct EvaluateCommand: ParsableCommand {
  static let configuration = CommandConfiguration(commandName: "evaluate", abstract: "Evaluate saved weights on the test split.")

  @OptionGroup var model: ModelOptions
  @OptionGroup var data: DataOptions
  @OptionGroup var job: RunOptions
  @Option(help: "Weights written by --save-weights (.npz or .weights.h5); not needed with a .keras --model.")
  var loadWeights: String?
  @Option(help: "Batch size for evaluation.") var batchSize: Int = 128

  func validate() throws {
    if batchSize <= 0 { throw ValidationError("--batch-size must be positive. Received: \(batchSize)") }
  }

  func run() throws {
    try reportingErrors {
      configureEngine(threads: job.threads ?? (job.workers == 0 ? nil : 1))
      let (m, preset) = try model.makeModel(seed: job.seed, sequenceLength: data.sequenceLength)
      if let w = loadWeights {
        try WeightsFile.load(m, from: w)
      } else if !(model.modelPath?.hasSuffix(".keras") ?? false) {
        throw DLPError.config("give the weights: --load-weights W.npz|W.weights.h5, or a .keras --model (its weights come with it)")
      }
      let splits = try data.load(default: preset?.defaultDataset, seed: job.seed, preset: preset, evaluation: true)
      let prepared = try PreparedData.prepare(splits, for: m, normalize: preset?.normalize ?? false)
      guard let test = prepared.test else { throw DLPError.data("dataset '\(prepared.datasetName)' has no test split") }
      // A batch bigger than the test split is one batch of all of it; clamped, no buffer overflows.
      let batchSize = FitOptions.effectiveBatchSize(self.batchSize, rows: test.count)
      var description = JobDescription(
        dataset: data.dataset ?? preset?.defaultDataset ?? "", samples: data.samples, numWords: data.numWords,
        targetColumn: data.targetColumn, normalize: preset?.normalize ?? false, validationSplit: 0, batchSize: batchSize,
        seed: job.seed, collective: job.allreduce.description)
      description.images = try data.imageOptions(seed: job.seed, preset: preset, evaluation: true)
      let read = data.datasetOptions(preset: preset)
      (description.sequenceLength, description.timeseries) = (read.sequenceLength, read.timeseries)
      let ev = try ClusterSession.run(
        placement: job.workers == 0 ? .inProcess : .localWorkers(job.workers), model: m, data: prepared,
        roles: try prepared.roles(validationSplit: 0), batchSize: batchSize, run: job, description: description
      ) { backend, _ in
        try Trainer.evaluate(model: m, backend: backend, role: .test, count: test.count, batchSize: batchSize)
      }
      printLine(ev.keys.sorted().map { "\($0): \(String(format: "%.4f", ev[$0]!))" }.joined(separator: " - "))
      if let path = job.report {
        try writeJSONAtomically(["evaluation": .object(ev.mapValues { JSONValue($0) }), "workers": JSONValue(job.workers)], to: path)
      }
    }
  }
}
