/// Where the tasks of a sweep run: in this process (`InProcessFoldRunner`) or, later, on cluster
/// workers that pull tasks from a coordinator's queue. A runner holds its data and model
/// recipe; tasks and options are plain values it can ship.
public protocol FoldTaskRunner {
  /// Runs every task and returns the results in the order of `tasks`. `onResult` is called
  /// once per task as it finishes (in completion order, on the caller's thread).
  func run(tasks: [FoldTask], options: CrossValidationOptions, onResult: ((FoldResult) -> Void)?)
    throws
    -> [FoldResult]
}

extension FoldTaskRunner {
  public func run(tasks: [FoldTask], options: CrossValidationOptions) throws -> [FoldResult] {
    try run(tasks: tasks, options: options, onResult: nil)
  }
}

/// Runs tasks one after the other in this process.
public final class InProcessFoldRunner: FoldTaskRunner {
  public let data: ArrayData
  public let normalize: Bool
  public let makeModel: CrossValidation.ModelFactory

  public init(data: ArrayData, normalize: Bool, makeModel: @escaping CrossValidation.ModelFactory) {
    self.data = data
    self.normalize = normalize
    self.makeModel = makeModel
  }

  public func run(
    tasks: [FoldTask], options: CrossValidationOptions, onResult: ((FoldResult) -> Void)?
  ) throws
    -> [FoldResult]
  {
    try tasks.map { task in
      let r = try CrossValidation.run(
        task: task, data: data, makeModel: makeModel, options: options, normalize: normalize)
      onResult?(r)
      return r
    }
  }
}
