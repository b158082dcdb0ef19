/// Grad-CAM as the book computes it (Chollet ch. 9): the gradient of a class's score (the model
/// output as it is predicted, softmax included) with respect to a convolution layer's output,
/// averaged over the spatial positions into one weight per channel; the channels weighted by it
/// and averaged; ReLU; divided by the maximum (an all-zero map stays zero).
public enum GradCAM {
  public struct Result {
    /// (n, h, w): one heatmap per image, in [0, 1].
    public let heatmap: Tensor
    /// The class each map is for, and its score.
    public let classes: [Int]
    public let scores: [Float]
    /// The model's outputs (n, classes).
    public let predictions: Tensor
  }

  /// - Parameters:
  ///   - x: images (n, model input shape...).
  ///   - layer: a layer with (h, w, channels) outputs, applied once.
  ///   - classIndex: the class to explain; nil for each image's top prediction.
  public static func compute(model: Model, x: Tensor, layer: String, classIndex: Int? = nil) throws -> Result {
    let g = try LayerGradient(model: model, layer: layer, capacity: Swift.max(x.shape.first ?? 1, 1))
    guard g.layerShape.count == 3 else {
      throw DLPError.shape(
        "Grad-CAM needs a layer with (height, width, channels) outputs; '\(layer)' has \(describeShapes([g.layerShape]))"
      )
    }
    let classCount = g.outputShape.reduce(1, *)
    if let k = classIndex, !(0..<classCount).contains(k) {
      throw DLPError.config("the model predicts \(classCount) classes; class \(k) does not exist")
    }
    var classes: [Int] = []
    let r = try g.compute(x) { y, seed, n, width in
      var scores: [Float] = []
      for row in 0..<n {
        let p = y + row * width
        let k = classIndex ?? (0..<width).max { p[$0] < p[$1] }!
        classes.append(k)
        scores.append(p[k])
        seed[row * width + k] = 1
      }
      return scores
    }
    let (h, w, c) = (g.layerShape[0], g.layerShape[1], g.layerShape[2])
    let n = x.shape[0]
    var maps = [Float](repeating: 0, count: n * h * w)
    let (a, grad) = (r.activation.scalars, r.gradient.scalars)
    for s in 0..<n {
      let base = s * h * w * c
      var pooled = [Float](repeating: 0, count: c)
      for p in 0..<(h * w) { for k in 0..<c { pooled[k] += grad[base + p * c + k] } }
      for k in 0..<c { pooled[k] /= Float(h * w) }
      var top: Float = 0
      for p in 0..<(h * w) {
        var v: Float = 0
        for k in 0..<c { v += a[base + p * c + k] * pooled[k] }
        v = Swift.max(v / Float(c), 0)
        maps[s * h * w + p] = v
        top = Swift.max(top, v)
      }
      if top > 0 { for p in 0..<(h * w) { maps[s * h * w + p] /= top } }
    }
    return Result(
      heatmap: Tensor(uncheckedShape: [n, h, w], scalars: maps), classes: classes, scores: r.objective,
      predictions: r.output)
  }
}
