import DLP
import Foundation

@testable import DLPCluster

/// 3 classes in 6 noisy features (class c lights up features c and c + 3): the small job the
/// coordinator, sweep and fuzz tests train, drawn from `seed`.
func threeClassData(rows n: Int, seed: UInt64, name: String, contentHash: UInt64) throws
  -> PreparedData
{
  var rng = SeededGenerator(seed: seed)
  var x: [Float] = []
  var y: [Float] = []
  for _ in 0..<n {
    let c = Int(rng.next() % 3)
    x += (0..<6).map { j in Float(j % 3 == c ? 1 : 0) + rng.nextNormal() * 0.6 }
    y.append(Float(c))
  }
  let train = try ArrayData(
    x: Tensor(shape: [n, 6], scalars: x), y: Tensor(shape: [n, 1], scalars: y))
  return PreparedData(train: train, test: nil, datasetName: name, contentHash: contentHash)
}
