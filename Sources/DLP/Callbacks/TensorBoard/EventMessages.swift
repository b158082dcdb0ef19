import CProtobufC
import Foundation
import TensorBoardProto

/// TensorFlow's `Event` messages as TensorBoard's Keras callback writes them, packed with
/// protobuf-c (Proto/tensorboard.proto): the file-version event, scalars as
/// `tf.summary.scalar` writes them (a float32 scalar tensor in `tensor_content`, with the
/// "scalars" plugin's metadata) and the model config Keras writes for TensorBoard's
/// conceptual graph (`keras_model_summary`).
public enum EventMessages {
  public static let fileVersion = "brain.Event:2"

  /// C memory for one message's strings, bytes and sub-messages, freed after packing.
  final class Arena {
    private var blocks: [UnsafeMutableRawPointer] = []
    deinit { for b in blocks { b.deallocate() } }

    func new<T>(_ value: T) -> UnsafeMutablePointer<T> {
      let p = UnsafeMutablePointer<T>.allocate(capacity: 1)
      p.initialize(to: value)
      blocks.append(UnsafeMutableRawPointer(p))
      return p
    }

    func string(_ s: String) -> UnsafeMutablePointer<CChar> {
      let bytes = Array(s.utf8CString)
      let p = UnsafeMutablePointer<CChar>.allocate(capacity: bytes.count)
      p.initialize(from: bytes, count: bytes.count)
      blocks.append(UnsafeMutableRawPointer(p))
      return p
    }

    func binary(_ bytes: [UInt8]) -> ProtobufCBinaryData {
      let p = UnsafeMutablePointer<UInt8>.allocate(capacity: Swift.max(bytes.count, 1))
      p.initialize(from: bytes, count: bytes.count)
      blocks.append(UnsafeMutableRawPointer(p))
      return ProtobufCBinaryData(len: bytes.count, data: p)
    }
  }

  /// The first record of every event file.
  public static func fileVersionEvent(wallTime: Double) -> [UInt8] {
    let arena = Arena()
    var e = Tensorboard__Event()
    tensorboard__event__init(&e)
    e.wall_time = wallTime
    e.what_case = TENSORBOARD__EVENT__WHAT_FILE_VERSION
    e.file_version = arena.string(fileVersion)
    return pack(&e)
  }

  /// A scalar: tensor DT_FLOAT of shape [] (4 bytes of tensor_content), metadata with plugin
  /// "scalars" and data class SCALAR.
  public static func scalarEvent(tag: String, value: Float, step: Int64, wallTime: Double) -> [UInt8] {
    let arena = Arena()
    var tensor = Tensorboard__TensorProto()
    tensorboard__tensor_proto__init(&tensor)
    tensor.dtype = TENSORBOARD__DATA_TYPE__DT_FLOAT
    tensor.tensor_content = arena.binary(withUnsafeBytes(of: value.bitPattern.littleEndian) { Array($0) })
    return summaryEvent(
      arena: arena, tag: tag, plugin: "scalars", content: [], dataClass: TENSORBOARD__DATA_CLASS__DATA_CLASS_SCALAR,
      tensor: tensor, step: step, wallTime: wallTime)
  }

  /// Keras's `keras_model_summary`: the model's JSON as a string tensor, plugin
  /// "graph_keras_model" with content "1".
  public static func kerasModelEvent(json: String, step: Int64, wallTime: Double) -> [UInt8] {
    let arena = Arena()
    var tensor = Tensorboard__TensorProto()
    tensorboard__tensor_proto__init(&tensor)
    tensor.dtype = TENSORBOARD__DATA_TYPE__DT_STRING
    tensor.n_string_val = 1
    tensor.string_val = arena.new(arena.binary(Array(json.utf8)))
    return summaryEvent(
      arena: arena, tag: "keras", plugin: "graph_keras_model", content: Array("1".utf8),
      dataClass: TENSORBOARD__DATA_CLASS__DATA_CLASS_UNKNOWN, tensor: tensor, step: step, wallTime: wallTime)
  }

  /// An event with one summary value: `tensor` (given its empty scalar shape here) and metadata.
  static func summaryEvent(
    arena: Arena, tag: String, plugin: String, content: [UInt8], dataClass: Tensorboard__DataClass,
    tensor: Tensorboard__TensorProto, step: Int64, wallTime: Double
  ) -> [UInt8] {
    var shape = Tensorboard__TensorShapeProto()
    tensorboard__tensor_shape_proto__init(&shape)
    var tensor = tensor
    tensor.tensor_shape = arena.new(shape)
    var pluginData = Tensorboard__SummaryMetadata__PluginData()
    tensorboard__summary_metadata__plugin_data__init(&pluginData)
    pluginData.plugin_name = arena.string(plugin)
    pluginData.content = arena.binary(content)
    var metadata = Tensorboard__SummaryMetadata()
    tensorboard__summary_metadata__init(&metadata)
    metadata.plugin_data = arena.new(pluginData)
    metadata.data_class = dataClass
    var value = Tensorboard__Summary__Value()
    tensorboard__summary__value__init(&value)
    value.tag = arena.string(tag)
    value.metadata = arena.new(metadata)
    value.value_case = TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR
    value.tensor = arena.new(tensor)
    var summary = Tensorboard__Summary()
    tensorboard__summary__init(&summary)
    summary.n_value = 1
    summary.value = arena.new(Optional(arena.new(value)))
    var event = Tensorboard__Event()
    tensorboard__event__init(&event)
    event.wall_time = wallTime
    event.step = step
    event.what_case = TENSORBOARD__EVENT__WHAT_SUMMARY
    event.summary = arena.new(summary)
    return pack(&event)
  }

  static func pack(_ e: inout Tensorboard__Event) -> [UInt8] {
    let size = tensorboard__event__get_packed_size(&e)
    var out = [UInt8](repeating: 0, count: size)
    _ = out.withUnsafeMutableBufferPointer { tensorboard__event__pack(&e, $0.baseAddress) }
    return out
  }

  /// A decoded event (for tests and `dlp plot`-style readers): its step, wall time, file
  /// version, and summary values as (tag, plugin, float value or string).
  public struct Decoded {
    public var wallTime: Double
    public var step: Int64
    public var fileVersion: String?
    public var values: [(tag: String, plugin: String, dtype: Int, float: Float?, string: String?)] = []
  }

  public static func decode(_ bytes: [UInt8]) throws -> Decoded {
    guard let e = bytes.withUnsafeBufferPointer({ tensorboard__event__unpack(nil, $0.count, $0.baseAddress) }) else {
      throw DLPError.data("not an Event message (\(bytes.count) bytes)")
    }
    defer { tensorboard__event__free_unpacked(e, nil) }
    var d = Decoded(wallTime: e.pointee.wall_time, step: e.pointee.step)
    if e.pointee.what_case == TENSORBOARD__EVENT__WHAT_FILE_VERSION {
      d.fileVersion = String(cString: e.pointee.file_version)
    }
    if e.pointee.what_case == TENSORBOARD__EVENT__WHAT_SUMMARY, let s = e.pointee.summary {
      for i in 0..<s.pointee.n_value {
        guard let v = s.pointee.value[i]?.pointee else { continue }
        let plugin = v.metadata?.pointee.plugin_data.map { String(cString: $0.pointee.plugin_name) } ?? ""
        var float: Float?
        var string: String?
        var dtype = 0
        if v.value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_TENSOR, let t = v.tensor?.pointee {
          dtype = Int(t.dtype.rawValue)
          if t.tensor_content.len == 4 {
            let raw = UnsafeRawPointer(t.tensor_content.data!).loadUnaligned(as: UInt32.self)
            float = Float(bitPattern: UInt32(littleEndian: raw))
          }
          if t.n_string_val > 0 {
            let b = t.string_val[0]
            string = String(decoding: UnsafeBufferPointer(start: b.data, count: b.len), as: UTF8.self)
          }
        } else if v.value_case == TENSORBOARD__SUMMARY__VALUE__VALUE_SIMPLE_VALUE {
          float = v.simple_value
        }
        d.values.append((String(cString: v.tag), plugin, dtype, float, string))
      }
    }
    return d
  }
}
