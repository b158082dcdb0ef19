import ArgumentParser
import DLP
import DLPCluster
import Foundation

/// `dlp kfold`: K-fold (or iterated K-fold) validation of a model on a dataset's training split,
/// optionally followed by the book's last step, a fresh model trained on all of it and
/// evaluated on the test split.
struct KFoldCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "kfold", abstract: "K-fold or iterated K-fold validation of a model.",
    discussion: """
      Fold i validates on rows [i*n/K, (i+1)*n/K) of the (optionally shuffled) training data and \
      trains a fresh model on the rest, as Deep Learning with Python does; the n % K leftover rows \
      always stay in training. Normalisation statistics (boston-mlp, or --normalize) come from each \
      fold's training rows only.

      With --workers N, N worker processes pull the tasks from a queue (a worker killed mid-sweep \
      loses no fold: its task is redone by the others). Every task's seed, folds and model are \
      the same wherever it runs, so the results do not depend on N; they do depend on the BLAS \
      threads per task (--threads: 1 per worker by default, all cores in-process), which change \
      the rounding of large matrix products.

      With --group-size G, each task trains on a group of G workers: each takes its part of every \
      batch, and their gradients are summed over a ring (8 workers run 4 folds at 2 workers each). \
      The scores are those of G = 1 up to float summation order (a batch's gradient is summed as \
      G partial sums). N need not be a multiple of G: the N % G spare workers stand in for a lost \
      one. A group member that dies sends its group's task back on the queue; the survivors give \
      it up after the collective timeout and join new groups.
      """)

  @OptionGroup var model: ModelOptions
  @OptionGroup var data: DataOptions
  @OptionGroup var job: RunOptions

  @Option(help: "Number of folds K (>= 2).") var folds: Int
  @Option(
    help: "Repeats P of iterated K-fold; each repeat reshuffles the data (P > 1 implies --shuffle)."
  )
  var repeats: Int = 1
  @Flag(help: "Shuffle the samples (with --seed) before splitting them into folds.") var shuffle =
    false
  @Option(help: "Epochs per fold (default: the preset's, else 1).") var epochs: Int?
  @Option(help: "Batch size (default: the preset's, else 32).") var batchSize: Int?
  @Option(
    help:
      "Workers per fold task: each task trains data-parallel on a group of G workers, so --workers N runs N/G tasks at a time."
  )
  var groupSize: Int = 1
  @Flag(help: "Send the dataset to the workers instead of letting each load it.") var shipData =
    false
  @Flag(
    help: "Then train a fresh model on all the training data and evaluate it on the test split.")
  var final = false
  @Option(help: "Epochs of the --final model (default: --epochs).") var finalEpochs: Int?
  @Flag(
    inversion: .prefixedNo,
    help:
      "Standardise features with statistics of each fold's training rows (default: the preset's choice)."
  )
  var normalize: Bool?
  @Flag(help: "Do not shuffle the training rows each epoch.") var noEpochShuffle = false
  @Option(help: "Save each finished fold task's result here (atomically), for --resume.") var checkpointDir: String?
  @Option(help: "Skip the fold tasks whose results are saved in this folder (the same sweep flags required).")
  var resume: String?

  func validate() throws {
    if folds < 2 { throw ValidationError("--folds must be >= 2") }
    if repeats < 1 { throw ValidationError("--repeats must be >= 1") }
    if groupSize < 1 { throw ValidationError("--group-size must be >= 1") }
    if let e = epochs, e < 0 { throw ValidationError("--epochs must be >= 0") }
    if let e = finalEpochs, e < 0 { throw ValidationError("--final-epochs must be >= 0") }
    if let b = batchSize, b <= 0 { throw ValidationError("--batch-size must be positive") }
    // A fold group's ring is set up per task over tcp; shared memory is for train and evaluate.
    if job.transport == .shm { throw ValidationError("--transport shm is for train and evaluate; K-fold groups use tcp") }
  }

  func run() throws {
    try reportingErrors {
      if groupSize > 1 && groupSize > job.workers {
        throw DLPError.config(
          "--group-size \(groupSize) runs each fold task on \(groupSize) workers; it needs --workers N with N >= \(groupSize) (got \(job.workers))"
        )
      }
      if shipData && job.workers == 0 {
        throw DLPError.config("--ship-data sends the data to workers; it needs --workers N")
      }
      configureEngine(threads: job.threads)
      let (template, preset) = try model.makeModel(seed: job.seed, sequenceLength: data.sequenceLength)
      // Every task builds its model from this document: stable layer names, same compile settings.
      let blueprint = try ModelBlueprint(template)
      let normalize = self.normalize ?? preset?.normalize ?? false
      var options = CrossValidationOptions(
        epochs: epochs ?? preset?.defaultEpochs ?? 1,
        batchSize: Swift.min(batchSize ?? preset?.defaultBatchSize ?? 32, ShapeLimits.maxElements),
        shuffle: !noEpochShuffle)
      // --workers N: N worker processes pull the tasks from a queue; each builds its models from
      // the blueprint and trains on its own copy of the data, so the results are the same. They
      // start before this process loads the data, so they load theirs at the same time.
      var cluster: FoldCoordinator?
      // Without --final nothing reads the test split: neither this process nor the workers load it.
      var workerData = JobDescription(
        dataset: data.dataset ?? preset?.defaultDataset ?? "", samples: data.samples,
        numWords: data.numWords, targetColumn: data.targetColumn, normalize: false,
        validationSplit: 0, batchSize: options.batchSize, seed: job.seed,
        collective: job.allreduce.description)
      workerData.skipTest = !final
      workerData.images = try data.imageOptions(seed: job.seed, preset: preset)
      let read = data.datasetOptions(preset: preset)
      (workerData.sequenceLength, workerData.timeseries) = (read.sequenceLength, read.timeseries)
      if job.workers > 0 {
        cluster = try FoldCoordinator.launchLocal(
          workers: job.workers, threads: job.threads ?? 1, shipData: shipData,
          blueprint: blueprint,
          job: FoldJobDescription(
            kfold: .init(normalize: normalize, groupSize: groupSize),
            data: workerData),
          options: try job.coordinatorOptions(bind: "tcp://127.0.0.1:*", workers: job.workers, shipData: shipData))
      }
      let prepared: PreparedData
      let results: [FoldResult]
      let start: Date
      do {
        if !shipData { try cluster?.start() }
        let splits = try data.load(default: preset?.defaultDataset, skipTest: !final, seed: job.seed, preset: preset)
        // Raw features: each fold normalises with its own training rows' statistics.
        prepared = try PreparedData.prepare(splits, for: template, normalize: false)
        // A batch bigger than the data is one batch of all of it; clamped, no buffer overflows.
        options.batchSize = FitOptions.effectiveBatchSize(options.batchSize, rows: prepared.largestSplit)
        let plan: ValidationPlan =
          repeats > 1
          ? IteratedKFoldPlan(folds: folds, repeats: repeats, seed: job.seed)
          : KFoldPlan(folds: folds, shuffle: shuffle, seed: job.seed)
        let allTasks = try plan.tasks(count: prepared.train.count)
        let flags = sweepFlags(options: options, normalize: normalize, dataset: data.dataset ?? preset?.defaultDataset)
        let warn: (String) -> Void = { FileHandle.standardError.write(Data("warning: \($0)\n".utf8)) }
        let saved = try resume.map { try FoldResultStore(directory: $0).results(for: allTasks, flags: flags, warn: warn) }
          ?? allTasks.map { _ in nil }
        let tasks = zip(allTasks, saved).filter { $0.1 == nil }.map(\.0)
        if resume != nil && !job.quiet {
          printLine("resuming: \(allTasks.count - tasks.count) of \(allTasks.count) fold tasks already done")
        }
        let store = (checkpointDir ?? resume).map(FoldResultStore.init)
        cluster?.data = prepared
        let runner: FoldTaskRunner =
          cluster
          ?? InProcessFoldRunner(
            data: prepared.train, normalize: normalize, makeModel: blueprint.make)
        if !job.quiet {
          printLine(
            "\(repeats > 1 ? "\(repeats) x " : "")\(folds)-fold validation of \(prepared.train.count) samples of \(prepared.datasetName)"
              + " (\(prepared.train.count / folds) per fold), \(options.epochs) epochs, batch \(options.batchSize)"
              + (normalize ? ", normalised per fold" : "")
              + (job.workers > 0 ? ", on \(job.workers) worker\(job.workers == 1 ? "" : "s")" : "")
              + (groupSize > 1 ? " in groups of \(groupSize)" : ""))
        }
        start = Date()
        let fresh = try runner.run(tasks: tasks, options: options) { r in
          if !job.quiet { printLine(foldLine(r)) }
          do { try store?.write(r, flags: flags) } catch { warn("\(error)") }
        }
        var next = fresh.makeIterator()
        results = saved.map { $0 ?? next.next()! }
      } catch {
        cluster?.finish(reason: "the sweep failed: \(error)", failed: true)
        throw error
      }
      var seconds = Date().timeIntervalSince(start)
      cluster?.finish(reason: "the sweep is over")
      var trained = results.reduce(0) { $0 + $1.trainedSamples }
      let summary = CrossValidationSummary(results)
      printLine("mean over \(results.count) folds: \(summary.description)")

      var report = summary.json
      var stopped = results.compactMap { r in
        r.history.stoppedReason.map { "fold \(r.fold + 1): \($0)" }
      }
      if final {
        let finalOptions = CrossValidationOptions(
          epochs: finalEpochs ?? options.epochs, batchSize: options.batchSize,
          shuffle: options.shuffle)
        if !job.quiet {
          printLine("final model: \(prepared.train.count) samples, \(finalOptions.epochs) epochs")
        }
        let finalStart = Date()
        let (_, history, evaluation) = try CrossValidation.trainFinal(
          data: prepared.train, test: prepared.test, makeModel: blueprint.make, seed: job.seed,
          options: finalOptions,
          normalize: normalize, progress: job.progress)
        seconds += Date().timeIntervalSince(finalStart)
        trained += history.trainSamples * history.epochs.count
        report["history"] = history.json
        if let ev = evaluation {
          report["evaluation"] = .object(ev.mapValues { JSONValue($0) })
          printLine(
            "test "
              + ev.keys.sorted().map { "\($0): \(String(format: "%.4f", ev[$0]!))" }.joined(
                separator: " - "))
        } else if prepared.test == nil {
          printLine(
            "dataset \(prepared.datasetName) has no test split: the final model was not evaluated")
        }
        if let r = history.stoppedReason { stopped.append("final model: \(r)") }
      }
      report["train_seconds"] = JSONValue(seconds)
      report["samples_per_second"] = JSONValue(seconds > 0 ? Double(trained) / seconds : 0)
      report["workers"] = JSONValue(job.workers)
      if groupSize > 1 { report["group_size"] = JSONValue(groupSize) }
      if let path = job.report { try writeJSONAtomically(.object(report), to: path) }
      if !stopped.isEmpty { throw DLPError.training(stopped.joined(separator: "; ")) }
    }
  }

  /// The flags that decide the sweep's results (a resumed sweep must give the same).
  func sweepFlags(options: CrossValidationOptions, normalize: Bool, dataset: String?) -> [String: String] {
    var f: [String: String] = [
      "folds": String(folds), "repeats": String(repeats), "shuffle": String(shuffle), "epochs": String(options.epochs),
      "batch-size": String(options.batchSize), "seed": String(job.seed), "normalize": String(normalize),
      "epoch-shuffle": String(options.shuffle), "num-words": String(data.numWords),
    ]
    f["preset"] = model.preset
    f["model"] = model.modelPath.flatMap { try? TrainArguments.contentTag($0) }
    f["optimizer"] = model.optimizer
    f["learning-rate"] = model.learningRate.map { String($0) }
    f["loss"] = model.loss
    f["metrics"] = model.metrics
    f["dataset"] = dataset
    f["samples"] = data.samples.map(String.init)
    f["target-column"] = data.targetColumn
    return f
  }

  /// `fold 2/4: val_loss 9.8765 - val_mae 2.3456 (1.2s)`, with the repeat when iterated.
  func foldLine(_ r: FoldResult) -> String {
    let which =
      (repeats > 1 ? "repeat \(r.repeat + 1)/\(repeats) " : "") + "fold \(r.fold + 1)/\(folds)"
    let metrics = r.evaluation.keys.sorted().map {
      "val_\($0) \(String(format: "%.4f", r.evaluation[$0]!))"
    }
    .joined(separator: " - ")
    let stop = r.history.stoppedReason.map { " [\($0)]" } ?? ""
    return "\(which): \(metrics) (\(String(format: "%.1f", r.seconds))s)\(stop)"
  }
}
