import DLPTensor
import Foundation

/// A Keras word index (`imdb_word_index.json`, `reuters_word_index.json`): word -> rank, 1 for the
/// most frequent word. Dataset sequences hold `rank + index_from` (3 by default), because 0, 1
/// and 2 are reserved for padding, start and out-of-vocabulary.
public struct WordIndex: Sendable, Equatable {
  public let wordToIndex: [String: Int]
  private let indexToWord: [Int: String]

  public init(_ wordToIndex: [String: Int]) {
    self.wordToIndex = wordToIndex
    // Ties are impossible in Keras's files; if a file has them, keep the smaller word so the
    // reverse map does not depend on dictionary order.
    var reverse: [Int: String] = [:]
    for (word, index) in wordToIndex {
      if let existing = reverse[index], existing < word { continue }
      reverse[index] = word
    }
    self.indexToWord = reverse
  }

  /// Reads a JSON object of word -> integer.
  public init(contentsOf url: URL) throws {
    let bytes = try FileIO.readBytes(url)
    let object: Any
    do {
      object = try JSONSerialization.jsonObject(with: Data(bytes))
    } catch {
      throw DLPError.data("\(url.path): not valid JSON (\(error.localizedDescription))")
    }
    guard let dictionary = object as? [String: Any] else {
      throw DLPError.data("\(url.path): expected a JSON object mapping words to indices")
    }
    var map: [String: Int] = [:]
    map.reserveCapacity(dictionary.count)
    for (word, value) in dictionary {
      guard let number = value as? NSNumber, let index = Int(exactly: number.doubleValue) else {
        throw DLPError.data("\(url.path): the index of '\(word)' is not an integer")
      }
      map[word] = index
    }
    self.init(map)
  }

  /// Finds and reads `NAME_word_index.json` (e.g. `imdb`, `reuters`) where datasets are looked
  /// up: `$DLP_DATA`, then `~/.keras/datasets`.
  public static func load(dataset name: String, locator: DatasetLocator = DatasetLocator()) throws
    -> WordIndex
  {
    try WordIndex(contentsOf: try locator.locateFile("\(name)_word_index.json", dataset: name))
  }

  public var count: Int { wordToIndex.count }

  public subscript(word: String) -> Int? { wordToIndex[word] }

  /// The word of rank `index`, if any.
  public func word(at index: Int) -> String? { indexToWord[index] }

  /// Turns a dataset sequence back into text, as the book does:
  /// `" ".join(reverse_word_index.get(i - 3, "?") for i in sequence)`.
  public func decode(_ sequence: [Int], indexFrom: Int = 3, unknown: String = "?") -> String {
    sequence.map { indexToWord[$0 - indexFrom] ?? unknown }.joined(separator: " ")
  }
}
