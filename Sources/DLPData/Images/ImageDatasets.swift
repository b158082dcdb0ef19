import DLPTensor
import Foundation

/// `--dataset DIR` for images in class folders (`image_dataset_from_directory`): DIR holds
/// one subfolder per class, or `train/` and `test/` folders that each do (then the test split
/// is `test/`, with the same classes).
public enum ImageDatasets {
  /// The folder(s) of a dataset path, or nil when it is not an image dataset.
  public static func layout(_ path: String) -> (train: URL, test: URL?)? {
    let url = URL(fileURLWithPath: path)
    let train = url.appendingPathComponent("train")
    let test = url.appendingPathComponent("test")
    if ImageFolder.looksLikeImageFolder(train) && hasClassFolders(train) {
      return (train, ImageFolder.looksLikeImageFolder(test) ? test : nil)
    }
    return ImageFolder.looksLikeImageFolder(url) ? (url, nil) : nil
  }

  /// True when some subfolder of `url` is itself a folder of images (a class folder).
  static func hasClassFolders(_ url: URL) -> Bool {
    let fm = FileManager.default
    let entries = (try? fm.contentsOfDirectory(atPath: url.path)) ?? []
    return entries.contains { e in
      var d: ObjCBool = false
      let sub = url.appendingPathComponent(e)
      return !e.hasPrefix(".") && fm.fileExists(atPath: sub.path, isDirectory: &d) && d.boolValue
        && ((try? ImageFolder.images(in: sub).isEmpty) == false)
    }
  }

  /// The loaders of the train (and test) folders: indexed, sample shape fixed, nothing decoded.
  public static func loaders(_ path: String, options: ImageFolderOptions) throws -> (
    train: ImageFolderLoader, test: ImageFolderLoader?
  )? {
    guard let (trainURL, testURL) = layout(path) else { return nil }
    let train = try ImageFolderLoader(
      folder: ImageFolder(root: trainURL, seed: options.seed, shuffle: options.shuffle), options: options)
    var test: ImageFolderLoader?
    if let testURL {
      var testOptions = options
      // The test split keeps the train split's size, so one model takes both.
      testOptions.imageSize = options.imageSize ?? [train.sampleShape[0], train.sampleShape[1]]
      let loader = try ImageFolderLoader(
        folder: ImageFolder(root: testURL, seed: options.seed, shuffle: false), options: testOptions)
      guard loader.folder.classNames == train.folder.classNames else {
        throw DLPError.data(
          "\(testURL.path) has classes \(loader.folder.classNames), \(trainURL.path) has \(train.folder.classNames); they must be the same"
        )
      }
      test = loader
    }
    return (train, test)
  }

  /// Decodes a whole image dataset into memory (on every core), or returns nil when `path`
  /// is not one.
  public static func load(_ path: String, options: DatasetOptions) throws -> DatasetSplits? {
    guard let images = options.images, let (train, test) = try loaders(path, options: images) else { return nil }
    let threads = ProcessInfo.processInfo.activeProcessorCount
    func data(_ loader: ImageFolderLoader, limit: Int?) throws -> LabeledData {
      var x = try loader.decodeAll(threads: threads)
      var y = SampleArray(try loader.folder.labelTensor(images.labelMode))
      if let n = limit, n < loader.count {
        x = try x.rows(0..<n)
        y = try y.rows(0..<n)
      }
      return LabeledData(x: x, y: y)
    }
    let trainData = try data(train, limit: options.samples)
    var testData = options.skipTest ? nil : try test.map { try data($0, limit: nil) }
    if testData == nil && images.wholeFolderIsTest { testData = trainData }
    return DatasetSplits(
      name: URL(fileURLWithPath: path).lastPathComponent, train: trainData, test: testData,
      numClasses: train.folder.classNames.count)
  }
}
