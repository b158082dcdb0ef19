import ArgumentParser
import DLP
import Foundation

/// `dlp gradcam`: the book's class activation heatmap of one input for a convolution layer.
struct GradCAMCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gradcam", abstract: "Grad-CAM: where in an image a layer sees the evidence for a class.",
    discussion: """
      The gradient of the class's score (the model's output as predicted, softmax included) with \
      respect to the layer's output is averaged over the positions into one weight per channel; \
      the channels are weighted by it and averaged, negative values set to 0, and the map divided \
      by its maximum (Deep Learning with Python, ch. 9). --output heat.npz writes `heatmap` (h, w), \
      `class`, `predictions`; heat.png draws it in matplotlib's jet colours over the image \
      (resized bilinearly), as the book does.
      """)

  @OptionGroup var model: InspectedModel
  @Option(help: "An image (PNG, JPEG; resized to the model's input) or an .npz with array x.") var input: String
  @Option(help: "Which sample of an .npz input.") var index: Int = 0
  @Option(help: "The convolution layer (a name, or a path into a nested model).") var layer: String
  @Option(name: .customLong("class"), help: "The class to explain (default: the predicted one).") var classIndex: Int?
  @Option(help: "Where to write the heatmap: .npz or .png.") var output: String
  @Option(help: "Heatmap weight in the PNG overlay.") var alpha: Float = 0.4

  func run() throws {
    try reportingErrors {
      let m = try model.open()
      let input = try InspectionInput.load(self.input, for: m, index: index)
      let cam = try GradCAM.compute(model: m, x: input.x, layer: layer, classIndex: classIndex)
      let (h, w) = (cam.heatmap.shape[1], cam.heatmap.shape[2])
      printLine(
        "class \(cam.classes[0]) (score \(String(format: "%.4f", cam.scores[0]))), heatmap \(h) x \(w) of layer '\(layer)'"
      )
      if output.lowercased().hasSuffix(".png") {
        let (pixels, height, width) = try overlay(cam.heatmap.scalars, h, w, input)
        try PNGWriter.write(pixels: pixels, height: height, width: width, channels: 3, to: URL(fileURLWithPath: output))
      } else {
        try writeArrays(
          [
            ("heatmap", Tensor(uncheckedShape: [h, w], scalars: cam.heatmap.scalars)),
            ("class", Tensor(uncheckedShape: [1], scalars: [Float(cam.classes[0])])),
            ("predictions", cam.predictions),
          ], to: output)
      }
    }
  }

  /// The book's picture: the heatmap as 8-bit jet colours, resized to the image, times alpha
  /// over the image, rescaled to [0, 255].
  func overlay(_ heat: [Float], _ h: Int, _ w: Int, _ input: InspectionInput) throws -> ([UInt8], Int, Int) {
    let shape = Array(input.x.shape.dropFirst())
    let (height, width) = input.image.map { ($0.height, $0.width) } ?? (shape[0], shape[1])
    // The picture: the image as decoded (RGB), or the input array itself.
    let picture: [Float]
    if let image = input.image {
      let rgb = image.channels >= 3 ? image : image.replicatedToRGB()
      picture = (0..<(height * width)).flatMap { p in (0..<3).map { Float(rgb.pixels[p * rgb.channels + $0]) } }
    } else {
      let c = shape.count == 3 ? shape[2] : 1
      let v = scaledToBytes(input.x.scalars)
      picture = (0..<(height * width)).flatMap { p in (0..<3).map { Float(v[p * c + Swift.min($0, c - 1)]) } }
    }
    let jet = heat.flatMap { v -> [UInt8] in
      let (r, g, b) = Colormap.jet[Int((Swift.min(Swift.max(v, 0), 1) * 255).rounded())]
      return [UInt8(r * 255), UInt8(g * 255), UInt8(b * 255)]
    }
    let colored = DecodedImage(height: h, width: w, channels: 3, pixels: jet).floats(height: height, width: width)
    return (scaledToBytes(zip(colored, picture).map { $0 * alpha + $1 }), height, width)
  }
}

extension DecodedImage {
  /// A grayscale image as RGB (gray in every channel; alpha dropped).
  func replicatedToRGB() -> DecodedImage {
    DecodedImage(
      height: height, width: width, channels: 3,
      pixels: (0..<(height * width)).flatMap { p in [UInt8](repeating: pixels[p * channels], count: 3) })
  }
}
