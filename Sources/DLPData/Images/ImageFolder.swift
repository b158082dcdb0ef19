import DLPTensor
import Foundation

/// Keras's `label_mode` for images in class folders.
public enum LabelMode: String, Sendable, Codable, CaseIterable {
  /// The class index (for sparse_categorical_crossentropy).
  case int
  /// One-hot vectors (categorical_crossentropy).
  case categorical
  /// 0 or 1 as a float (binary_crossentropy); exactly two classes.
  case binary

  public init(parsing s: String) throws {
    guard let m = LabelMode(rawValue: s) else {
      throw DLPError.config("label_mode must be one of int, categorical, binary. Received: label_mode=\(s)")
    }
    self = m
  }
}

/// How images from class folders become samples (`keras.utils.image_dataset_from_directory`'s
/// arguments): size, channels, labels, the seed of the file order, and how many decoded bytes
/// may be held in memory.
public struct ImageFolderOptions: Sendable, Codable, Equatable {
  /// (height, width) to resize every image to; nil: every image must already have one size.
  public var imageSize: [Int]?
  public var colorMode: String = ColorMode.rgb.rawValue
  public var labelMode: LabelMode = .int
  /// Keras shuffles the file list once with `np.random.RandomState(seed)` (so a
  /// validation split takes a mix of classes); DLP uses --seed.
  public var seed: UInt64 = 0
  public var shuffle: Bool = true
  /// Decoded values are divided by it: 1 gives [0, 255] as Keras does (models with their own
  /// Rescaling), 255 gives [0, 1] as the book prepares images for its presets.
  public var divisor: Float = 1
  /// `dlp evaluate` on a plain class folder: the whole folder is the test split.
  public var wholeFolderIsTest: Bool = false

  public init(imageSize: [Int]? = nil, colorMode: ColorMode = .rgb, labelMode: LabelMode = .int, seed: UInt64 = 0) {
    self.imageSize = imageSize
    self.colorMode = colorMode.rawValue
    self.labelMode = labelMode
    self.seed = seed
  }

  public var mode: ColorMode { ColorMode(rawValue: colorMode) ?? .rgb }
}

/// The files of a folder with one subfolder per class, as Keras's `index_directory` lists
/// them: class names are the subfolders' names, sorted (hidden ones skipped); each class's
/// images are its files ending in .png, .jpg or .jpeg (any case), found recursively, in sorted
/// order; then the whole list is shuffled with `np.random.RandomState(seed)`.
public struct ImageFolder: Sendable {
  public let root: URL
  public let classNames: [String]
  public let files: [URL]
  /// Class index of each file.
  public let labels: [Int]

  static let imageExtensions = ["png", "jpg", "jpeg"]
  static let otherImageExtensions = ["bmp", "gif"]

  /// True when `url` is a folder with at least one subfolder holding an image (an image
  /// dataset), which is how `--dataset DIR` tells it from an IDX folder.
  public static func looksLikeImageFolder(_ url: URL) -> Bool {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: url.path, isDirectory: &isDirectory), isDirectory.boolValue,
      let entries = try? fm.contentsOfDirectory(atPath: url.path)
    else { return false }
    for e in entries.sorted() where !e.hasPrefix(".") {
      let sub = url.appendingPathComponent(e)
      guard fm.fileExists(atPath: sub.path, isDirectory: &isDirectory), isDirectory.boolValue else { continue }
      if let walker = fm.enumerator(atPath: sub.path),
        walker.contains(where: {
          imageExtensions.contains(
            (($0 as? String) ?? "").lowercased().split(separator: ".").last.map(String.init) ?? "")
        })
      {
        return true
      }
    }
    return false
  }

  public init(root: URL, seed: UInt64, shuffle: Bool = true) throws {
    let fm = FileManager.default
    var isDirectory: ObjCBool = false
    guard fm.fileExists(atPath: root.path, isDirectory: &isDirectory), isDirectory.boolValue else {
      throw DLPError.data("\(root.path) is not a folder")
    }
    let entries = try fm.contentsOfDirectory(atPath: root.path).sorted()
    let classes = entries.filter { e in
      !e.hasPrefix(".") && fm.fileExists(atPath: root.appendingPathComponent(e).path, isDirectory: &isDirectory)
        && isDirectory.boolValue
    }
    guard !classes.isEmpty else {
      throw DLPError.data(
        "\(root.path) has no class subfolders (image_dataset_from_directory wants one folder of images per class)")
    }
    var files: [URL] = []
    var labels: [Int] = []
    for (k, name) in classes.enumerated() {
      let folder = root.appendingPathComponent(name)
      let found = try Self.images(in: folder)
      guard !found.isEmpty else {
        throw DLPError.data("class folder \(folder.path) has no PNG or JPEG images")
      }
      files += found
      labels += Array(repeating: k, count: found.count)
    }
    if shuffle {
      // index_directory: RandomState(seed).shuffle(file_paths), and the labels with a fresh
      // RandomState(seed): the same permutation.
      var order = Array(files.indices)
      var rng = NumpyRandomState(seed64: seed)
      rng.shuffle(&order)
      files = order.map { files[$0] }
      labels = order.map { labels[$0] }
    }
    self.root = root
    self.classNames = classes
    self.files = files
    self.labels = labels
  }

  /// Image files under `folder`, walked as Keras walks it: directories in sorted order, the
  /// files of each sorted. Other image formats Keras lists (bmp, gif) are refused by name.
  static func images(in folder: URL) throws -> [URL] {
    let fm = FileManager.default
    guard let walker = fm.enumerator(at: folder, includingPropertiesForKeys: [.isRegularFileKey]) else { return [] }
    var byDirectory: [String: [String]] = [:]
    for case let url as URL in walker {
      guard (try? url.resourceValues(forKeys: [.isRegularFileKey]).isRegularFile) == true else { continue }
      let ext = url.pathExtension.lowercased()
      if otherImageExtensions.contains(ext) {
        throw DLPError.data("\(url.path): DLP decodes PNG and JPEG images; convert \(ext) files first")
      }
      guard imageExtensions.contains(ext) else { continue }
      byDirectory[url.deletingLastPathComponent().path, default: []].append(url.lastPathComponent)
    }
    return byDirectory.keys.sorted().flatMap { dir in
      byDirectory[dir]!.sorted().map { URL(fileURLWithPath: dir).appendingPathComponent($0) }
    }
  }

  /// The labels as Keras's `label_mode` gives them: (n, 1) class indices, (n, classes) one-hot,
  /// or (n, 1) 0/1 floats.
  public func labelTensor(_ mode: LabelMode, rows: [Int]? = nil) throws -> Tensor {
    let picked = (rows ?? Array(labels.indices)).map { labels[$0] }
    switch mode {
    case .int, .binary:
      if mode == .binary && classNames.count != 2 {
        throw DLPError.config(
          "label_mode binary needs exactly 2 class folders; \(root.path) has \(classNames.count): \(classNames)")
      }
      return Tensor(uncheckedShape: [picked.count, 1], scalars: picked.map(Float.init))
    case .categorical:
      var v = [Float](repeating: 0, count: picked.count * classNames.count)
      for (i, k) in picked.enumerated() { v[i * classNames.count + k] = 1 }
      return Tensor(uncheckedShape: [picked.count, classNames.count], scalars: v)
    }
  }
}
