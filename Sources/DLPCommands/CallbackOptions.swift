import ArgumentParser
import DLP

/// Keras's callbacks on the command line (train and dlp-coordinator), with Keras's defaults.
struct CallbackOptions: ParsableArguments {
  @Option(help: "EarlyStopping with this patience: stop when --monitor has not improved for PATIENCE epochs.")
  var earlyStopping: Int?

  @Option(help: "What EarlyStopping, ReduceLROnPlateau and --save-best-only watch (Keras's default: val_loss).")
  var monitor: String = "val_loss"

  @Option(help: "auto, min or max: whether --monitor should go down or up (auto: from its name, as Keras).")
  var monitorMode: String = "auto"

  @Option(
    help:
      "Smallest change of --monitor that counts as an improvement (default: Keras's, 0 for EarlyStopping, 1e-4 for ReduceLROnPlateau)."
  )
  var minDelta: Double?

  @Option(help: "EarlyStopping's baseline: training stops unless --monitor beats it within the patience.")
  var baseline: Double?

  @Option(help: "EarlyStopping starts watching at this epoch (0-based, Keras's start_from_epoch).")
  var startFromEpoch: Int = 0

  @Flag(help: "EarlyStopping: go back to the weights of the best epoch when training ends.")
  var restoreBestWeights = false

  @Option(
    help:
      "ModelCheckpoint: save after each epoch to PATH (.keras, .weights.h5 or .npz; Keras's {epoch:02d} and {val_loss:.2f} style fields are filled in)."
  )
  var checkpoint: String?

  @Flag(help: "ModelCheckpoint: save only when --monitor improves.")
  var saveBestOnly = false

  @Option(help: "ReduceLROnPlateau with this patience: multiply the learning rate by --factor when --monitor stalls.")
  var reduceLrOnPlateau: Int?

  @Option(help: "ReduceLROnPlateau's factor (Keras's default 0.1).")
  var factor: Double = 0.1

  @Option(help: "ReduceLROnPlateau's lower bound on the learning rate (default 0).")
  var minLr: Double = 0

  @Option(help: "ReduceLROnPlateau's cooldown in epochs (default 0).")
  var cooldown: Int = 0

  @Option(help: "CSVLogger: write each epoch's logs to this CSV file.")
  var csvLog: String?

  @Option(help: "TensorBoard: write event files under DIR/train and DIR/validation.")
  var tensorboard: String?

  func validate() throws {
    if let p = earlyStopping, p < 0 { throw ValidationError("--early-stopping must be >= 0") }
    if let p = reduceLrOnPlateau, p < 0 { throw ValidationError("--reduce-lr-on-plateau must be >= 0") }
    guard Monitor.Mode(rawValue: monitorMode) != nil else {
      throw ValidationError("--monitor-mode must be auto, min or max")
    }
    if restoreBestWeights && earlyStopping == nil {
      throw ValidationError("--restore-best-weights needs --early-stopping")
    }
    if (baseline != nil || startFromEpoch != 0) && earlyStopping == nil {
      throw ValidationError("--baseline and --start-from-epoch need --early-stopping")
    }
    if saveBestOnly && checkpoint == nil { throw ValidationError("--save-best-only needs --checkpoint") }
    if (factor != 0.1 || minLr != 0 || cooldown != 0) && reduceLrOnPlateau == nil {
      throw ValidationError("--factor, --min-lr and --cooldown need --reduce-lr-on-plateau")
    }
    if reduceLrOnPlateau != nil && factor >= 1 {
      throw ValidationError("ReduceLROnPlateau does not support a factor >= 1.0. Received factor=\(factor)")
    }
  }

  /// The callbacks asked for, in the order they run: ReduceLROnPlateau first, so that the logs
  /// the others (and the History) see carry its `learning_rate`.
  func make() throws -> [Callback] {
    let mode = Monitor.Mode(rawValue: monitorMode) ?? .auto
    var list: [Callback] = []
    if let p = reduceLrOnPlateau {
      list.append(
        try ReduceLROnPlateau(
          monitor: monitor, factor: factor, patience: p, mode: mode, minDelta: minDelta ?? 1e-4, cooldown: cooldown,
          minLR: minLr))
    }
    if let p = earlyStopping {
      list.append(
        try EarlyStopping(
          monitor: monitor, minDelta: minDelta ?? 0, patience: p, mode: mode, baseline: baseline,
          restoreBestWeights: restoreBestWeights, startFromEpoch: startFromEpoch))
    }
    if let path = checkpoint {
      list.append(try ModelCheckpoint(filepath: path, monitor: monitor, saveBestOnly: saveBestOnly, mode: mode))
    }
    if let path = csvLog { list.append(CSVLogger(path: path)) }
    if let dir = tensorboard { list.append(TensorBoard(logDir: dir)) }
    return list
  }

  var changesLearningRate: Bool { reduceLrOnPlateau != nil }
}
