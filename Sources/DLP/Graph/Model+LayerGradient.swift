/// The gradient of any function of a model output with respect to any inner layer's output
/// (or the input): what Grad-CAM, filter visualisation and saliency maps need.
///
/// Runs the part of the graph that feeds output `output` in inference mode, seeds that output's
/// gradient with d(objective)/d(output) as the caller's objective writes it, and runs backward
/// only down to the layer (`GraphExecutor.backward(stopAt:)`), without weight gradients. The
/// model's weights and gradient buffer are untouched. Buffers are sized once: reuse one
/// instance for the steps of a gradient ascent.
public final class LayerGradient {
  public let model: Model
  /// The layer whose output the gradient is taken with respect to (an InputLayer: the input).
  public let layer: Layer
  let probe: Model
  let executor: GraphExecutor
  let outputNode: Int
  let layerNode: Int
  let inputNode: Int
  /// Per-sample shapes of the layer's output and of the model output.
  public let layerShape: [Int]
  public let outputShape: [Int]

  /// What an objective gets: the model output (`rows` x `width`, inference mode) and the
  /// buffer to write d(objective)/d(output) into (zeroed); it returns each row's objective.
  public typealias Objective = (
    _ output: UnsafePointer<Float>, _ seed: UnsafeMutablePointer<Float>, _ rows: Int, _ width: Int
  ) -> [Float]

  /// - Parameters:
  ///   - layer: a layer name (`layer(named:)`: a path into nested models works), applied once.
  ///   - output: which of the model's outputs the objective reads.
  ///   - capacity: the most samples one call takes.
  public init(model: Model, layer name: String, output: Int = 0, capacity: Int) throws {
    guard model.inputs.count == 1 else {
      throw DLPError.config("gradients need a model with one input; '\(model.name)' has \(model.inputs.count)")
    }
    guard model.outputs.indices.contains(output) else {
      throw DLPError.config("model '\(model.name)' has \(model.outputs.count) outputs; output \(output) does not exist")
    }
    let out = model.outputs[output]
    guard !(out.node.layer is InputLayer) else {
      throw DLPError.config("output \(output) of model '\(model.name)' is its input: there is nothing to differentiate")
    }
    let target = try model.outputTensor(ofLayer: name)
    let probe = try model.submodel(outputs: [out], name: "\(model.name)_probe")
    guard probe.inputs.count == 1 else {
      throw DLPError.config("output \(output) of model '\(model.name)' does not depend on its input")
    }
    guard let layerNode = probe.nodes.firstIndex(where: { $0 === target.node }) else {
      throw DLPError.config("output \(output) of model '\(model.name)' does not depend on layer '\(name)'")
    }
    self.model = model
    self.layer = target.node.layer
    self.probe = probe
    self.layerNode = layerNode
    outputNode = probe.nodes.firstIndex { $0 === out.node }!
    inputNode = probe.nodes.firstIndex { $0 === probe.inputs[0].node }!
    layerShape = target.shape
    outputShape = out.shape
    executor = GraphExecutor(model: probe, capacity: capacity, inputGradients: true, weightGradients: false)
  }

  /// Runs `x` (n, input shape...) forward, then back from `objective` to the layer. Returns each
  /// sample's objective, the layer's output (n, layer shape...) and the gradient of the
  /// objective with respect to it (same shape), and the model output (n, output shape...).
  public func compute(_ x: Tensor, objective: Objective) throws -> (
    objective: [Float], activation: Tensor, gradient: Tensor, output: Tensor
  ) {
    let shape = probe.inputs[0].shape
    guard x.rank == shape.count + 1, Array(x.shape.dropFirst()) == shape else {
      throw DLPError.shape(
        "input '\(probe.inputs[0].node.layer.name)' expects samples of shape \(describeShapes([shape])), got a tensor of shape \(x.shape)"
      )
    }
    let n = x.shape[0]
    guard n <= executor.capacity else {
      throw DLPError.shape("this gradient takes at most \(executor.capacity) samples at once, got \(n)")
    }
    let data = try ArrayData(inputs: [x])
    Array(0..<n).withUnsafeBufferPointer { executor.load(rows: $0, from: data, targets: false) }
    executor.forward(batch: n, training: false)
    let width = outputShape.reduce(1, *)
    let seed = executor.grads[outputNode]
    seed.update(repeating: 0, count: n * width)
    let output = executor.output(node: outputNode)
    let values = objective(output, seed, n, width)
    let outputCopy = Array(UnsafeBufferPointer(start: output, count: n * width))
    executor.backward(batch: n, stopAt: layerNode)
    let count = n * layerShape.reduce(1, *)
    return (
      values,
      Tensor(
        uncheckedShape: [n] + layerShape,
        scalars: Array(UnsafeBufferPointer(start: executor.output(node: layerNode), count: count))),
      Tensor(
        uncheckedShape: [n] + layerShape,
        scalars: Array(UnsafeBufferPointer(start: executor.gradient(node: layerNode), count: count))),
      Tensor(uncheckedShape: [n] + outputShape, scalars: outputCopy)
    )
  }
}
