import ArgumentParser
import DLP
import Foundation

/// `dlp predict`: run a model on arrays from an .npz, an image, or a folder of images in class
/// folders, and write its outputs as .npz.
struct PredictCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "predict", abstract: "Predict outputs for inputs in an .npz, an image or a folder of images.",
    discussion: """
      Images (PNG, JPEG) are decoded in the model's channels and resized to its input (bilinear, \
      as image_dataset_from_directory), values in [0, 255] (divided by 255 for a --preset, as the \
      book prepares its images). A folder of class folders is read batch by batch in Keras's file \
      order (--seed shuffles it as image_dataset_from_directory's seed does); its class indices go \
      to `labels`. With --layer NAME the output is that layer's (a nested base's features): \
      written as `x_train`, with the input's labels as `y_train`, it is a dataset dlp train reads \
      (feature extraction).
      """)

  @OptionGroup var model: ModelOptions
  @Option(help: "Weights written by --save-weights (.npz or .weights.h5); not needed with a .keras --model.")
  var loadWeights: String?
  @Option(help: "Inputs: an .npz (one array per model input, named after the Input layer, or x), an image, or a folder of class folders.") var input: String
  @Option(help: "Where to write the outputs (.npz): one array per output, named after its layer (or y).") var output: String
  @Option(help: "Write this layer's output instead (as x_train; the input's labels as y_train).") var layer: String?
  @Option(help: "Batch size.") var batchSize: Int = 128
  @Option(help: "BLAS threads.") var threads: Int?
  @Option(help: "Seed of the file order of a folder (image_dataset_from_directory's seed).") var seed: UInt64 = 0

  func validate() throws {
    if batchSize <= 0 { throw ValidationError("--batch-size must be positive. Received: \(batchSize)") }
  }

  func run() throws {
    try reportingErrors {
      configureEngine(threads: threads)
      let (full, preset) = try model.makeModel(seed: 0)
      if let w = loadWeights {
        try WeightsFile.load(full, from: w)
      } else if !(model.modelPath?.hasSuffix(".keras") ?? false) {
        throw DLPError.config("give the weights: --load-weights W.npz|W.weights.h5, or a .keras --model (its weights come with it)")
      }
      let m = try layer.map { try full.intermediateModel(outputs: [$0]) } ?? full
      let single = m.inputs.count == 1
      var labels: Tensor?
      let ys: [Tensor]
      if single, let folder = try imageFolder(for: m, preset: preset) {
        (ys, labels) = try predictFolder(m, folder)
        printLine("\(folder.count) images of \(folder.folder.classNames.count) classes: \(folder.folder.classNames.joined(separator: ", "))")
      } else if single, ["png", "jpg", "jpeg"].contains(URL(fileURLWithPath: input).pathExtension.lowercased()) {
        let x = try InspectionInput.load(input, for: m).x
        ys = try m.predict([preset == nil ? x : Tensor(uncheckedShape: x.shape, scalars: x.scalars.map { $0 / 255 })], batchSize: batchSize)
      } else {
        // Each array in its own element type: integer ids reach an int32 input bit for bit.
        let archive = try NPZArchive(contentsOf: URL(fileURLWithPath: input))
        let xs = try m.inputs.map { i -> SampleArray in
          let name = i.node.layer.name
          if archive.contains(name) { return try archive.array(name).samples() }
          if single && archive.contains("x") { return try archive.array("x").samples() }
          throw DLPError.data("\(input) has no array '\(name)'\(single ? " or 'x'" : "") (it has \(archive.arrayNames.sorted()))")
        }
        let shaped = try zip(xs, m.inputs).map { x, i -> SampleArray in
          guard x.rowWidth == i.shape.reduce(1, *) else {
            throw DLPError.shape("input '\(i.node.layer.name)' expects samples of shape \(i.shape), \(input) has \(Array(x.shape.dropFirst()))")
          }
          return try x.reshaped(to: [x.rows] + i.shape)
        }
        ys = try m.predict(ArrayData(inputs: shaped), batchSize: batchSize)
        let arrays = Set(archive.arrayNames)
        if let name = ["y", "y_true"].first(where: arrays.contains) { labels = try archive.array(name).tensor() }
      }
      var writer = NPZWriter()
      if layer != nil {
        // A training set for `dlp train --dataset features.npz` (x_train, y_train: all of it trains).
        try writer.add("x_train", ys[0])
        if let labels { try writer.add("y_train", labels.reshaped(to: [labels.shape[0], labels.count / Swift.max(labels.shape[0], 1)])) }
      } else {
        for (y, o) in zip(ys, m.outputs) { try writer.add(m.outputs.count == 1 ? "y" : o.node.layer.name, y) }
        if let labels { try writer.add("labels", labels) }
      }
      try writer.write(to: URL(fileURLWithPath: output))
    }
  }

  /// A loader for a folder of class folders sized to the model's input, or nil.
  func imageFolder(for m: Model, preset: Preset?) throws -> ImageFolderLoader? {
    guard let (train, _) = ImageDatasets.layout(input) else { return nil }
    let shape = m.inputs[0].shape
    guard shape.count == 3, [1, 3, 4].contains(shape[2]) else {
      throw DLPError.shape("images need a model taking (height, width, 1, 3 or 4 channels); it takes \(shape)")
    }
    var options = ImageFolderOptions(
      imageSize: [shape[0], shape[1]], colorMode: shape[2] == 1 ? .grayscale : shape[2] == 3 ? .rgb : .rgba, seed: seed)
    if preset != nil { options.divisor = 255 }
    return try ImageFolderLoader(folder: ImageFolder(root: train, seed: seed), options: options)
  }

  /// The folder's images, decoded a chunk at a time (never all at once), and their labels.
  func predictFolder(_ m: Model, _ loader: ImageFolderLoader) throws -> ([Tensor], Tensor) {
    let chunk = batchSize * 8
    var outputs = [[Float]](repeating: [], count: m.outputs.count)
    var x = [Float](repeating: 0, count: chunk * loader.sampleWidth)
    var lo = 0
    while lo < loader.count {
      let hi = Swift.min(lo + chunk, loader.count)
      try x.withUnsafeMutableBufferPointer {
        try loader.decode(rows: Array(lo..<hi), into: $0.baseAddress!, threads: ProcessInfo.processInfo.activeProcessorCount)
      }
      let batch = Tensor(uncheckedShape: [hi - lo] + m.inputs[0].shape, scalars: Array(x[0..<((hi - lo) * loader.sampleWidth)]))
      for (k, y) in try m.predict([batch], batchSize: batchSize).enumerated() { outputs[k] += y.scalars }
      lo = hi
    }
    let ys = zip(outputs, m.outputs).map { Tensor(uncheckedShape: [loader.count] + $1.shape, scalars: $0) }
    return (ys, try loader.folder.labelTensor(.int))
  }
}
