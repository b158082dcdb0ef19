import DLPTensor

/// The pattern a convolution filter responds to most (Chollet ch. 9): gradient ascent in input
/// space on the mean activation of filter `filter` of `layer` (its outputs 2 pixels in from the
/// border, as the book takes them), from a uniform image in [0.4, 0.6], each step adding
/// `learningRate` times the L2-normalised gradient.
public enum FilterPattern {
  /// The image (the model's input shape) after `iterations` steps, and the final objective.
  public static func generate(
    model: Model, layer: String, filter: Int, iterations: Int = 30, learningRate: Float = 10, seed: UInt64 = 0
  ) throws -> (image: Tensor, objective: Float) {
    guard model.inputs.count == 1 else {
      throw DLPError.config("filter patterns need a model with one input; '\(model.name)' has \(model.inputs.count)")
    }
    // The gradient of the objective on the layer's output, with respect to the input: a model
    // ending at the layer.
    let extractor = try LayerGradient(
      model: model.intermediateModel(outputs: [layer]), layer: model.inputs[0].node.layer.name, capacity: 1)
    let shape = extractor.outputShape
    guard let channels = shape.last, (0..<channels).contains(filter) else {
      throw DLPError.config("layer '\(layer)' has \(shape.last ?? 0) filters; filter \(filter) does not exist")
    }
    let inputShape = model.inputs[0].shape
    var rng = SeededGenerator(seed: seed)
    var image = Tensor(
      uncheckedShape: [1] + inputShape,
      scalars: (0..<inputShape.reduce(1, *)).map { _ in 0.4 + 0.2 * rng.nextUniform() })
    var objective: Float = 0
    for _ in 0..<iterations {
      let r = try extractor.compute(image) { y, seed, _, width in
        // Mean over the interior positions (2 pixels in, when there are enough) of channel `filter`.
        let positions = width / channels
        let spatial = shape.count == 3 ? (shape[0], shape[1]) : (1, positions)
        let border = spatial.0 > 4 && spatial.1 > 4 ? 2 : 0
        var picked: [Int] = []
        for row in border..<(spatial.0 - border) {
          for col in border..<(spatial.1 - border) { picked.append((row * spatial.1 + col) * channels + filter) }
        }
        var value: Float = 0
        for i in picked {
          seed[i] = 1 / Float(picked.count)
          value += y[i]
        }
        return [value / Float(picked.count)]
      }
      objective = r.objective[0]
      // tf.math.l2_normalize: g / sqrt(max(sum(g^2), 1e-12)).
      let grad = r.gradient.scalars
      let norm = Swift.max(grad.reduce(Float(0)) { $0 + $1 * $1 }, 1e-12).squareRoot()
      image = Tensor(
        uncheckedShape: image.shape, scalars: zip(image.scalars, grad).map { $0 + learningRate * $1 / norm })
    }
    return (Tensor(uncheckedShape: inputShape, scalars: image.scalars), objective)
  }
}
