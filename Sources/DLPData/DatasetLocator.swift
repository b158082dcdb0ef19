import DLPTensor
import Foundation

/// The datasets known by name.
public enum DatasetName: String, Sendable, CaseIterable {
  case mnist
  case fashionMNIST = "fashion_mnist"
  case bostonHousing = "boston_housing"
  case imdb
  case reuters

  /// Accepts `fashion_mnist` and `fashion-mnist` alike, in any case.
  public init?(lenient text: String) {
    self.init(rawValue: text.lowercased().replacingOccurrences(of: "-", with: "_"))
  }

  /// The dataset a file or folder is named after: `imdb.npz`, `imdb_small.npz`, `fashion-mnist/`.
  init?(fileStem stem: String) {
    let normalized = stem.lowercased().replacingOccurrences(of: "-", with: "_")
    // Longest names first, so that `fashion_mnist...` is not taken for `mnist`.
    let match = DatasetName.allCases.sorted { $0.rawValue.count > $1.rawValue.count }.first {
      normalized == $0.rawValue || normalized.hasPrefix($0.rawValue + "_")
    }
    guard let match else { return nil }
    self = match
  }

  /// How to obtain the dataset on a machine that lacks it.
  var howToGet: String {
    switch self {
    case .fashionMNIST:
      return "install Debian's package (apt-get install dataset-fashion-mnist), or copy the four "
        + "IDX files (train-images-idx3-ubyte.gz, ...) into $DLP_DATA/fashion-mnist/"
    case .mnist:
      return "mnist.npz from keras.datasets: run `python -c 'import keras; "
        + "keras.datasets.mnist.load_data()'` on a machine with network (it downloads "
        + "\(DatasetName.kerasOrigin)mnist.npz), then copy ~/.keras/datasets/mnist.npz into "
        + "$DLP_DATA or ~/.keras/datasets here; or put the four IDX files in $DLP_DATA/mnist/"
    default:
      return "\(rawValue).npz from keras.datasets: run `python -c 'import keras; "
        + "keras.datasets.\(rawValue).load_data()'` on a machine with network (it downloads "
        + "\(DatasetName.kerasOrigin)\(rawValue).npz), then copy ~/.keras/datasets/\(rawValue).npz "
        + "into $DLP_DATA or ~/.keras/datasets here"
    }
  }

  /// Where keras.datasets downloads its files from.
  static let kerasOrigin = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
}

/// Where a dataset's data is and in which format.
public enum DatasetSource: Sendable, Equatable {
  case idxFolder(URL)
  case npz(URL)
  case csv(URL)
}

/// A resolved dataset: its source and, when known, which Keras dataset it is.
public struct ResolvedDataset: Sendable, Equatable {
  public var name: DatasetName?
  public var source: DatasetSource
}

/// Resolves `--dataset NAME|PATH`: an existing path (IDX folder, `.npz`, `.csv`) is used as is;
/// a known name is looked up in `$DLP_DATA`, then `~/.keras/datasets` (and, for fashion_mnist,
/// Debian's `/usr/share/datasets/fashion-mnist`). A failed lookup lists every place it tried.
public struct DatasetLocator: Sendable {
  /// `$DLP_DATA`, when set.
  public var dataDirectory: URL?
  /// Keras's download cache, `~/.keras/datasets`.
  public var kerasDirectory: URL
  /// Where Debian's dataset-fashion-mnist package installs its files.
  public var systemFashionMNIST: URL

  public init(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    home: URL = FileManager.default.homeDirectoryForCurrentUser,
    systemFashionMNIST: URL = URL(fileURLWithPath: "/usr/share/datasets/fashion-mnist")
  ) {
    dataDirectory = environment["DLP_DATA"].flatMap { $0.isEmpty ? nil : URL(fileURLWithPath: $0) }
    kerasDirectory = home.appendingPathComponent(".keras/datasets")
    self.systemFashionMNIST = systemFashionMNIST
  }

  /// The folders searched for named files, in order, with how to describe each in errors.
  var searchFolders: [(url: URL?, label: String)] {
    [
      (dataDirectory, "$DLP_DATA" + (dataDirectory == nil ? " (not set)" : "")),
      (kerasDirectory, ""),
    ]
  }

  public func resolve(_ nameOrPath: String) throws -> ResolvedDataset {
    let url = URL(fileURLWithPath: (nameOrPath as NSString).expandingTildeInPath)
    var isDirectory: ObjCBool = false
    if FileManager.default.fileExists(atPath: url.path, isDirectory: &isDirectory) {
      return try resolvePath(url, isDirectory: isDirectory.boolValue)
    }
    guard let name = DatasetName(lenient: nameOrPath) else {
      throw DLPError.data(
        "dataset '\(nameOrPath)' is neither an existing path nor a known name ("
          + DatasetName.allCases.map(\.rawValue).joined(separator: ", ") + ")")
    }
    var tried: [String] = []
    for candidate in candidates(for: name) {
      tried.append(candidate.description)
      guard let url = candidate.url else { continue }
      switch candidate.format {
      case .npz:
        if FileManager.default.fileExists(atPath: url.path) {
          return ResolvedDataset(name: name, source: .npz(url))
        }
      case .idx:
        if IDXFolder.isComplete(url, requireTest: true) {
          return ResolvedDataset(name: name, source: .idxFolder(url))
        }
        if FileManager.default.fileExists(atPath: url.path) {
          tried[tried.count - 1] += " (exists, but lacks some of the train-/t10k- images/labels)"
        }
      }
    }
    throw DLPError.data(
      "dataset '\(name.rawValue)' not found. Looked in:\n  " + tried.joined(separator: "\n  ")
        + "\nTo get it: \(name.howToGet).")
  }

  /// Finds a named file (such as `imdb_word_index.json`) in `$DLP_DATA`, then `~/.keras/datasets`.
  public func locateFile(_ fileName: String, dataset: String) throws -> URL {
    var tried: [String] = []
    for (folder, label) in searchFolders {
      guard let folder else {
        tried.append(label)
        continue
      }
      let url = folder.appendingPathComponent(fileName)
      if FileManager.default.fileExists(atPath: url.path) { return url }
      tried.append(url.path + (label.isEmpty ? "" : " (\(label))"))
    }
    throw DLPError.data(
      "\(fileName) not found. Looked in:\n  " + tried.joined(separator: "\n  ")
        + "\nTo get it: run `python -c 'import keras; keras.datasets.\(dataset).get_word_index()'`"
        + " on a machine with network, then copy ~/.keras/datasets/\(fileName) here.")
  }

  private enum Format { case npz, idx }

  private struct Candidate {
    var url: URL?
    var format: Format
    var description: String
  }

  private func candidates(for name: DatasetName) -> [Candidate] {
    func inFolders(_ file: String, _ format: Format) -> [Candidate] {
      searchFolders.map { folder, label in
        let url = folder?.appendingPathComponent(file)
        let text = url.map { $0.path + (label.isEmpty ? "" : " (\(label))") } ?? "\(label)"
        return Candidate(url: url, format: format, description: text)
      }
    }
    switch name {
    case .fashionMNIST:
      var list = [
        dataDirectory?.appendingPathComponent("fashion-mnist"),
        dataDirectory?.appendingPathComponent("fashion_mnist"),
        kerasDirectory.appendingPathComponent("fashion-mnist"),
      ]
      .compactMap { $0 }.map { Candidate(url: $0, format: .idx, description: $0.path) }
      if dataDirectory == nil {
        list.insert(Candidate(url: nil, format: .idx, description: "$DLP_DATA (not set)"), at: 0)
      }
      list.append(
        Candidate(url: systemFashionMNIST, format: .idx, description: systemFashionMNIST.path))
      return list
    case .mnist:
      var list: [Candidate] = []
      for (folder, label) in searchFolders {
        guard let folder else {
          list.append(Candidate(url: nil, format: .npz, description: label))
          continue
        }
        let suffix = label.isEmpty ? "" : " (\(label))"
        let npz = folder.appendingPathComponent("mnist.npz")
        let idx = folder.appendingPathComponent("mnist")
        list.append(Candidate(url: npz, format: .npz, description: npz.path + suffix))
        list.append(Candidate(url: idx, format: .idx, description: idx.path + "/" + suffix))
      }
      return list
    case .bostonHousing, .imdb, .reuters:
      return inFolders("\(name.rawValue).npz", .npz)
    }
  }

  /// An explicit path: its format from what it is, and its Keras name from its file name.
  private func resolvePath(_ url: URL, isDirectory: Bool) throws -> ResolvedDataset {
    let name = DatasetName(fileStem: url.deletingPathExtension().lastPathComponent)
    if isDirectory {
      guard IDXFolder.isComplete(url, requireTest: false) else {
        throw DLPError.data(
          "\(url.path) is a folder without MNIST-style IDX files (expected "
            + IDXFolder.expectedNames("train").joined(separator: " and ") + ", optionally t10k-...)"
        )
      }
      return ResolvedDataset(name: name, source: .idxFolder(url))
    }
    switch url.pathExtension.lowercased() {
    case "npz": return ResolvedDataset(name: name, source: .npz(url))
    case "csv": return ResolvedDataset(name: nil, source: .csv(url))
    default:
      throw DLPError.data(
        "\(url.path): unknown dataset format (expected an IDX folder, .npz or .csv)")
    }
  }
}
