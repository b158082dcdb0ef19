import DLP
import Foundation

/// What a worker needs to take part in a K-fold sweep, besides the model: how to load the data
/// (the same `JobDescription` fields a training job uses: dataset, samples, vocabulary, seed,
/// heartbeat port) and whether each fold standardises its features with its own training
/// rows' statistics. Travels as JSON in `JobSpecMessage.fitJSON`, under a top-level `kfold`
/// key, which is how a worker tells a sweep from a training job.
public struct FoldJobDescription: Codable, Sendable, Equatable {
  public struct Sweep: Codable, Sendable, Equatable {
    /// Standardise each fold with statistics of its training rows (`CrossValidation.run`).
    public var normalize: Bool
    /// Workers per task: G > 1 trains each task data-parallel on a group (`GroupBackend`).
    public var groupSize: Int

    public init(normalize: Bool, groupSize: Int = 1) {
      self.normalize = normalize
      self.groupSize = groupSize
    }
  }

  public var kfold: Sweep
  /// The dataset and seed, as for training; `normalize` must be false there (folds normalise).
  public var data: JobDescription

  public init(kfold: Sweep, data: JobDescription) {
    self.kfold = kfold
    self.data = data
  }

  public func encoded() -> String { FoldWire.encode(self) }

  /// The sweep a job spec's `fitJSON` describes, or nil for a training job.
  public static func sweep(in fitJSON: String) throws -> FoldJobDescription? {
    guard (try? JSONValue.parse(fitJSON))?["kfold"] != nil else { return nil }
    do {
      return try FoldWire.decoder.decode(FoldJobDescription.self, from: Data(fitJSON.utf8))
    } catch {
      throw DLPError.config("malformed K-fold job description from the coordinator: \(error)")
    }
  }
}

/// JSON coding of what travels in a sweep's messages (tasks, options, results). Non-finite
/// numbers (a fold that diverged has NaN losses) are written as strings, so a result always
/// survives the trip.
enum FoldWire {
  static let nonFinite = (positive: "inf", negative: "-inf", nan: "nan")

  static var encoder: JSONEncoder {
    let e = JSONEncoder()
    e.outputFormatting = [.sortedKeys]
    e.nonConformingFloatEncodingStrategy = .convertToString(
      positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative,
      nan: nonFinite.nan)
    return e
  }

  static var decoder: JSONDecoder {
    let d = JSONDecoder()
    d.nonConformingFloatDecodingStrategy = .convertFromString(
      positiveInfinity: nonFinite.positive, negativeInfinity: nonFinite.negative,
      nan: nonFinite.nan)
    return d
  }

  static func encode<T: Encodable>(_ value: T) -> String {
    // Every type sent here encodes (strings for non-finite numbers), so this cannot fail.
    String(decoding: (try? encoder.encode(value)) ?? Data("{}".utf8), as: UTF8.self)
  }

  static func decode<T: Decodable>(_ type: T.Type, _ text: String, what: String) throws -> T {
    do {
      return try decoder.decode(type, from: Data(text.utf8))
    } catch {
      throw DLPError.training("malformed \(what): \(error)")
    }
  }
}
