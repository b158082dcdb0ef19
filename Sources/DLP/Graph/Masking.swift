/// Keras's masks (`_keras_mask`): an Embedding with `mask_zero=True` marks the padding steps of
/// each sequence, and the mask travels with the tensor through the layers that support masking
/// (Dense, Dropout, Activation, a recurrent layer returning sequences) to the layers that use
/// it (the recurrent layers keep their state over masked steps, GlobalAveragePooling1D leaves
/// them out of the mean). A layer that does not support masking drops it, as Keras does.
///
/// A mask is a buffer of `batch` rows of the tensor's steps (its shape without the last axis),
/// 1 where the step counts and 0 where it is masked.
public enum MaskPropagation: Equatable, Sendable {
  /// The output carries no mask.
  case none
  /// The output carries input `input`'s mask unchanged (the same buffer).
  case passThrough(input: Int)
  /// The layer computes a mask of `width` values per sample into `ForwardPass.outputMask`.
  case produces(width: Int)
}

/// Which node of a model carries a mask, and where it comes from: decided once from the graph.
struct MaskPlan {
  /// Per node: nil (no mask), or the node whose layer produced the mask it carries.
  let source: [Int?]
  /// Per node that produces a mask: its width per sample.
  let producedWidth: [Int?]

  init(_ model: Model) {
    let nodes = model.nodes
    let index = Dictionary(
      uniqueKeysWithValues: nodes.enumerated().map { (ObjectIdentifier($1), $0) })
    var source = [Int?](repeating: nil, count: nodes.count)
    var produced = [Int?](repeating: nil, count: nodes.count)
    for (k, n) in nodes.enumerated() where !(n.layer is InputLayer) {
      let inputSources = n.inputs.map { source[index[ObjectIdentifier($0.node)]!] }
      switch n.layer.maskPropagation(inputMasked: inputSources.map { $0 != nil }) {
      case .none: break
      case .passThrough(let i): source[k] = inputSources[i]
      case .produces(let width):
        source[k] = k
        produced[k] = width
      }
    }
    self.source = source
    self.producedWidth = produced
  }

  var isEmpty: Bool { source.allSatisfy { $0 == nil } }

  /// Keras applies a mask that reaches a model output to its loss, and merges the masks of
  /// merged tensors; DLP does neither yet, so it refuses such models rather than train them
  /// differently.
  static func validate(_ model: Model) throws {
    let plan = MaskPlan(model)
    guard !plan.isEmpty else { return }
    let index = Dictionary(
      uniqueKeysWithValues: model.nodes.enumerated().map { (ObjectIdentifier($1), $0) })
    for out in model.outputs where plan.source[index[ObjectIdentifier(out.node)]!] != nil {
      throw DLPError.config(
        "output '\(out.node.layer.name)' carries a mask (from an Embedding with mask_zero=True), which Keras would apply to the loss; DLP does not support masked losses yet: end the masked part with a layer that consumes the mask (an RNN without return_sequences, GlobalAveragePooling1D)"
      )
    }
    for n in model.nodes where n.inputs.count > 1 {
      let masked = n.inputs.filter { plan.source[index[ObjectIdentifier($0.node)]!] != nil }
      if !masked.isEmpty {
        throw DLPError.config(
          "layer '\(n.layer.name)' (\(n.layer.className)) merges tensors that carry masks (from an Embedding with mask_zero=True); Keras would merge the masks, which DLP does not support yet"
        )
      }
    }
  }
}
