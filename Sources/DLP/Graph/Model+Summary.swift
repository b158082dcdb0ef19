import Foundation

extension Model {
  /// Keras's `model.summary()` table: layers, output shapes, parameter counts (and, for
  /// functional models, what each layer is connected to).
  public func summary() -> String {
    let functional = !isSequential
    var rows: [[String]] = []
    let refs = TopLevelRefs(self)
    var counted = Set<ObjectIdentifier>()
    func connections(_ inputs: [SymbolicTensor]) -> String {
      inputs.isEmpty ? "-" : inputs.map { t in let r = refs.ref(t); return "\(r.name)[\(r.node)][\(r.tensor)]" }.joined(separator: ", ")
    }
    for item in refs.items {
      let owner: Layer
      let shape: [Int]
      let inputs: [SymbolicTensor]
      switch item {
      case .node(let n):
        if isSequential && n.layer is InputLayer { continue }
        // The outputs of a layer with several are listed on its row, as Keras lists them.
        if n.layer is TensorSlice { continue }
        owner = n.layer
        shape = n.layer is InputLayer ? (n.layer as! InputLayer).shape : n.layer.outputShape
        inputs = n.inputs
      case .call(let c):
        owner = c.model
        shape = c.outputs[0].shape
        inputs = c.inputs
      }
      let first = counted.insert(ObjectIdentifier(owner)).inserted
      var row = [
        "\(owner.name) (\(owner.className))", describeShapes((owner as? MultiOutputLayer)?.kerasOutputShapes ?? [shape]),
        Model.grouped(first ? owner.parameterCount : 0),
      ]
      if functional { row.append(connections(inputs)) }
      rows.append(row)
    }
    let headers = functional ? ["Layer (type)", "Output Shape", "Param #", "Connected to"] : ["Layer (type)", "Output Shape", "Param #"]
    var widths = headers.map { $0.count }
    for r in rows { for (i, c) in r.enumerated() { widths[i] = Swift.max(widths[i], c.count) } }
    widths = widths.map { $0 + 2 }
    func cell(_ s: String, _ w: Int, right: Bool) -> String {
      let pad = String(repeating: " ", count: Swift.max(0, w - s.count - 1))
      return right ? pad + s + " " : " " + s + pad
    }
    func line(_ l: String, _ m: String, _ r: String, _ fill: String) -> String {
      l + widths.map { String(repeating: fill, count: $0) }.joined(separator: m) + r
    }
    var out = "Model: \"\(name)\"\n"
    out += line("┏", "┳", "┓", "━") + "\n"
    out += "┃" + headers.enumerated().map { cell($1, widths[$0], right: $0 == 2) }.joined(separator: "┃") + "┃\n"
    out += line("┡", "╇", "┩", "━") + "\n"
    for (k, r) in rows.enumerated() {
      out += "│" + r.enumerated().map { cell($1, widths[$0], right: $0 == 2) }.joined(separator: "│") + "│\n"
      if k + 1 < rows.count { out += line("├", "┼", "┤", "─") + "\n" }
    }
    out += line("└", "┴", "┘", "─") + "\n"
    let total = parameterCount
    let trainable = trainableParameterCount
    out += " Total params: \(Model.grouped(total)) (\(Model.bytes(total * 4)))\n"
    out += " Trainable params: \(Model.grouped(trainable)) (\(Model.bytes(trainable * 4)))\n"
    out += " Non-trainable params: \(Model.grouped(total - trainable)) (\(Model.bytes((total - trainable) * 4)))\n"
    return out
  }

  static func grouped(_ n: Int) -> String {
    let s = String(n)
    var out = ""
    for (i, c) in s.reversed().enumerated() {
      if i > 0 && i % 3 == 0 { out.append(",") }
      out.append(c)
    }
    return String(out.reversed())
  }

  static func bytes(_ n: Int) -> String {
    if n < 1024 { return String(format: "%.2f B", Double(n)) }
    if n < 1024 * 1024 { return String(format: "%.2f KB", Double(n) / 1024) }
    return String(format: "%.2f MB", Double(n) / 1024 / 1024)
  }
}
