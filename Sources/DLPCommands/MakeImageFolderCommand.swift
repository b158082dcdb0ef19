import ArgumentParser
import DLP
import Foundation

/// `dlp make-image-folder`: writes a dataset's images as PNG and JPEG files, one folder per
/// class (what `--dataset DIR` and image_dataset_from_directory read).
struct MakeImageFolderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "make-image-folder", abstract: "Write a dataset's images as PNG/JPEG files in class folders.",
    discussion: """
      Images are the dataset's samples times 255 (IDX datasets are loaded divided by 255), \
      rounded to bytes; file k of a class is k.png or k.jpg, the formats taking turns. Class \
      folders are named so that sorting them gives the class order (Fashion-MNIST: 0_T-shirt_top, \
      1_Trouser, ...).
      """)

  @Option(help: "The dataset (a name or path, as dlp train takes).") var dataset: String = "fashion_mnist"
  @Option(help: "train or test.") var split: String = "test"
  @Option(help: "The first N samples of the split.") var samples: Int?
  @Option(help: "Formats, taking turns: png, jpeg or png,jpeg.") var formats: String = "png,jpeg"
  @Option(help: "JPEG quality (1-100).") var quality: Int = 95
  @Option(help: "The folder to write (created).") var output: String
  @Option(
    help:
      "Also write the folder's images as an .npz (x_train in [0, 1], y_train), rows in the order dlp train --dataset FOLDER --seed S reads them."
  ) var npz: String?
  @Option(help: "The seed of that order.") var seed: UInt64 = 0

  static let fashionClasses = [
    "T-shirt_top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle_boot",
  ]

  func run() throws {
    try reportingErrors {
      let kinds = formats.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
      guard !kinds.isEmpty, kinds.allSatisfy({ ["png", "jpeg", "jpg"].contains($0) }) else {
        throw DLPError.config("--formats takes png, jpeg or png,jpeg; received \(formats)")
      }
      guard ["train", "test"].contains(split) else {
        throw DLPError.config("--split must be train or test; received \(split)")
      }
      let data = try DatasetCatalog.load(dataset, options: DatasetOptions(skipTest: split == "train"))
      guard let part = split == "train" ? data.train : data.test else {
        throw DLPError.data("dataset '\(dataset)' has no test split")
      }
      let shape = Array(part.x.shape.dropFirst())
      guard (2...3).contains(shape.count), shape.count == 2 || [1, 3].contains(shape[2]) else {
        throw DLPError.shape(
          "make-image-folder needs images of shape (H, W) or (H, W, 1 or 3); '\(dataset)' has \(shape)")
      }
      let (h, w, c) = (shape[0], shape[1], shape.count == 3 ? shape[2] : 1)
      let n = Swift.min(samples ?? part.count, part.count)
      let labels = part.y.floats().map { Int($0) }
      let xs = part.x.floats()
      let classCount = (labels.max() ?? 0) + 1
      let names = (0..<classCount).map { k -> String in
        let digits = String(classCount - 1).count
        let index = String(repeating: "0", count: digits - String(k).count) + String(k)
        return dataset == "fashion_mnist" && classCount == 10 ? "\(index)_\(Self.fashionClasses[k])" : index
      }
      let root = URL(fileURLWithPath: output)
      for name in names {
        try FileManager.default.createDirectory(
          at: root.appendingPathComponent(name), withIntermediateDirectories: true)
      }
      let scale: Float = xs.prefix(h * w * c * Swift.min(n, 100)).max() ?? 0 <= 1 ? 255 : 1
      var perClass = [Int](repeating: 0, count: classCount)
      for i in 0..<n {
        let pixels = xs[(i * h * w * c)..<((i + 1) * h * w * c)].map {
          UInt8(Swift.min(Swift.max(($0 * scale).rounded(), 0), 255))
        }
        let k = labels[i]
        let kind = kinds[perClass[k] % kinds.count]
        let url = root.appendingPathComponent(names[k]).appendingPathComponent(
          "\(perClass[k]).\(kind == "png" ? "png" : "jpg")")
        if kind == "png" {
          try PNGWriter.write(pixels: pixels, height: h, width: w, channels: c, to: url)
        } else {
          try JPEGWriter.write(pixels: pixels, height: h, width: w, channels: c, quality: quality, to: url)
        }
        perClass[k] += 1
      }
      printLine(
        "\(n) images (\(h) x \(w) x \(c)) of \(dataset) \(split) in \(classCount) class folders under \(output)")
      if let npz {
        var options = ImageFolderOptions(colorMode: c == 1 ? .grayscale : .rgb, seed: seed)
        options.divisor = 255
        let loader = try ImageFolderLoader(folder: ImageFolder(root: root, seed: seed), options: options)
        var writer = NPZWriter()
        try writer.add("x_train", loader.decodeAll(threads: ProcessInfo.processInfo.activeProcessorCount).tensor())
        try writer.add("y_train", loader.folder.labelTensor(.int).reshaped(to: [loader.count]))
        try writer.write(to: URL(fileURLWithPath: npz))
        printLine("the same images, decoded in that order: \(npz)")
      }
    }
  }
}
