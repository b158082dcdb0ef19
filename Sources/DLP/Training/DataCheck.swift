extension Model {
  /// Checks each role's data against this model before a step runs, exactly as in-process
  /// training does (`LocalBackend`): input shapes, target widths, and the loss's own check of
  /// the target values (sparse labels must be integers in `0..<classes`: out of range, huge or
  /// NaN labels are refused, naming the label and its index). Roles are checked in order
  /// (train, validation, test); test data without targets is fine (predictions only).
  ///
  /// Workers call it on the data they loaded or were shipped, so a job on N workers ends with
  /// the same error as in-process training instead of reading past a buffer.
  public func validateData(_ data: [DataRole: ArrayData]) throws {
    for role in [DataRole.train, .validation, .test] {
      guard let d = data[role] else { continue }
      try d.validate(for: self, needTargets: role != .test || !d.targets.isEmpty)
    }
  }
}
