import DLPTensor

/// Builds a tensor, reporting a shape/count disagreement as `DLPError.shape` (the module's
/// errors are all `DLPError`, so callers need only one catch).
func makeTensor(_ shape: [Int], _ scalars: [Float]) throws -> Tensor {
  do {
    return try Tensor(shape: shape, scalars: scalars)
  } catch let error as TensorError {
    throw DLPError(error)
  }
}
