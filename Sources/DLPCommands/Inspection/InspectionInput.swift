import DLP
import Foundation

/// The one input a look inside a model works on: an image file (PNG or JPEG, decoded in the
/// model's channels and resized to its input, values in [0, 255] as
/// image_dataset_from_directory gives them) or a sample of an .npz (array `x`, or the only one).
struct InspectionInput {
  /// (1, model input shape...).
  let x: Tensor
  /// The decoded picture, for drawing over (nil for .npz input).
  let image: DecodedImage?

  static func load(_ path: String, for model: Model, index: Int = 0) throws -> InspectionInput {
    guard model.inputs.count == 1 else {
      throw DLPError.config("looking inside needs a model with one input; it has \(model.inputs.count)")
    }
    let shape = model.inputs[0].shape
    if path.lowercased().hasSuffix(".npz") {
      let arrays = try WeightsFile.read(path)
      guard let all = arrays["x"] ?? (arrays.count == 1 ? arrays.values.first : nil) else {
        throw DLPError.data("\(path) has no array 'x' (it has \(arrays.keys.sorted()))")
      }
      let width = shape.reduce(1, *)
      guard all.rank >= 1, all.rowWidth == width else {
        throw DLPError.shape("the model takes samples of shape \(shape); \(path) holds \(all.shape)")
      }
      guard (0..<all.shape[0]).contains(index) else {
        throw DLPError.data("\(path) holds \(all.shape[0]) samples; sample \(index) does not exist")
      }
      return InspectionInput(x: try all.slice(rows: index..<(index + 1)).reshaped(to: [1] + shape), image: nil)
    }
    guard shape.count == 3, [1, 3, 4].contains(shape[2]) else {
      throw DLPError.shape("an image input needs a model taking (height, width, 1, 3 or 4 channels); it takes \(shape)")
    }
    let mode: ColorMode = shape[2] == 1 ? .grayscale : shape[2] == 3 ? .rgb : .rgba
    let image = try ImageDecoder.decode(file: path, colorMode: mode)
    return InspectionInput(
      x: Tensor(uncheckedShape: [1] + shape, scalars: image.floats(height: shape[0], width: shape[1])), image: image)
  }
}

/// Writes an .npz of named arrays, or fails naming what it expected.
func writeArrays(_ arrays: [(String, Tensor)], to path: String) throws {
  var writer = NPZWriter()
  for (name, t) in arrays { try writer.add(name, t) }
  try writer.write(to: URL(fileURLWithPath: path))
}

/// Floats to 8-bit samples, scaled so the lowest is 0 and the highest 255 (keras.utils.array_to_img).
func scaledToBytes(_ v: [Float]) -> [UInt8] {
  guard let lo = v.min(), let hi = v.max(), hi > lo else { return v.map { _ in 0 } }
  return v.map { UInt8(Swift.min(Swift.max(($0 - lo) / (hi - lo) * 255, 0), 255).rounded()) }
}

/// Each pixel repeated `k` x `k` times (small pictures made visible).
func enlarged(_ pixels: [UInt8], height: Int, width: Int, channels: Int, by k: Int) -> [UInt8] {
  guard k > 1 else { return pixels }
  var out = [UInt8](repeating: 0, count: pixels.count * k * k)
  for y in 0..<(height * k) {
    for x in 0..<(width * k) {
      for c in 0..<channels {
        out[(y * width * k + x) * channels + c] = pixels[((y / k) * width + x / k) * channels + c]
      }
    }
  }
  return out
}
