/// Keras's Sequential: a chain of layers. The first element may be an `InputLayer`
/// (`InputLayer(shape:)`) or a model (whose input the chain then takes); otherwise give
/// `inputShape`. A model in the chain is inlined (see `ModelCall`).
public final class Sequential: Model {
  public init(
    _ layers: [Layer], inputShape: [Int]? = nil, name: String? = nil, seed: UInt64 = 0,
    bindWeights: Bool = true
  ) throws {
    var chain = layers
    let input: SymbolicTensor
    if let first = chain.first as? InputLayer {
      chain.removeFirst()
      input = SymbolicTensor(node: Node(layer: first, inputs: []), shape: first.shape)
    } else if let shape = inputShape {
      input = Input(shape: shape)
    } else if let first = chain.first as? Model, first.inputs.count == 1 {
      input = Input(shape: first.inputs[0].shape)
    } else {
      throw DLPError.config("Sequential needs an input shape: start with InputLayer(shape:) or pass inputShape")
    }
    guard !chain.isEmpty else { throw DLPError.config("Sequential needs at least one layer after its input") }
    var x = input
    for layer in chain {
      if layer is InputLayer { throw DLPError.config("InputLayer '\(layer.name)' can only be the first layer of a Sequential") }
      do {
        x = try layer(x)
      } catch let DLPError.shape(m) {
        throw DLPError.shape("\(m) (layer '\(layer.name)' receives the output of the previous layer, shape \(describeShapes([x.shape])))")
      }
    }
    try super.init(
      inputs: [input], outputs: [x], name: name ?? LayerNames.unique("sequential"), seed: seed,
      bindWeights: bindWeights)
    isSequential = true
  }
}
