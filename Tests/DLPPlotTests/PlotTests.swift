import DLP
import Foundation
import XCTest

@testable import DLPPlot

#if canImport(FoundationXML)
  import FoundationXML
#endif

/// `dlp plot`'s figures: the book's panels from a report, a PNG a decoder accepts (chunk CRCs,
/// zlib stream, rows) and well-formed SVG.
final class PlotTests: XCTestCase {
  let trainReport: JSONValue = [
    "history": [
      "loss": [1.0, 0.7, 0.5, 0.45], "val_loss": [1.1, 0.8, 0.6, nil], "accuracy": [0.5, 0.6, 0.7, 0.8],
      "val_accuracy": [0.45, 0.55, 0.65, 0.7],
    ]
  ]

  func testTrainReportGivesTheBooksTwoPanels() throws {
    let f = try ReportCurves.figure(report: trainReport, source: "r")
    XCTAssertEqual(f.panels.map(\.title), ["Training and validation loss", "Training and validation accuracy"])
    XCTAssertEqual(f.panels[0].series.map(\.name), ["Training loss", "Validation loss"])
    XCTAssertEqual(f.panels[0].series[0].style, .dots)
    XCTAssertEqual(f.panels[0].series[1].style, .line)
    XCTAssertEqual(f.panels[0].series[0].points.map(\.x), [1, 2, 3, 4])
    // A null (a NaN in the report) is a gap, not a point.
    XCTAssertEqual(f.panels[0].series[1].points.count, 3)
    XCTAssertThrowsError(try ReportCurves.figure(report: ["evaluation": [:]], source: "bad.json")) {
      XCTAssertTrue("\($0)".contains("bad.json"), "\($0)")
    }
  }

  func testKFoldReportDropsTenEpochsAndSmoothsAsTheBook() throws {
    let mae = (1...30).map { 10 / Double($0) + Double($0 % 3) * 0.1 }
    let f = try ReportCurves.figure(
      report: ["mean_history": ["val_mae": JSONValue(mae), "val_loss": JSONValue(mae)]], source: "k")
    XCTAssertEqual(f.panels.count, 2)
    XCTAssertEqual(f.panels[0].series[0].points.map(\.y), mae)
    let smoothed = f.panels[1].series[0].points
    XCTAssertEqual(smoothed.first?.x, 11)
    XCTAssertEqual(smoothed.count, 20)
    // The book's smooth_curve: previous * 0.9 + point * 0.1, from the 11th epoch's value.
    var expected = [mae[10]]
    for p in mae[11...] { expected.append(expected.last! * 0.9 + p * 0.1) }
    for (a, b) in zip(smoothed.map(\.y), expected) { XCTAssertEqual(a, b, accuracy: 1e-12) }
  }

  /// Decodes our PNG: signature, chunk CRCs, IHDR, the zlib stream of filtered rows.
  func testPNGIsWellFormed() throws {
    let f = try ReportCurves.figure(report: trainReport, source: "r")
    let png = try Render.png(f)
    XCTAssertEqual(Array(png[0..<8]), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
    var i = 8
    var chunks: [(String, [UInt8])] = []
    func u32(_ at: Int) -> Int { (0..<4).reduce(0) { $0 << 8 | Int(png[at + $1]) } }
    while i < png.count {
      let length = u32(i)
      let typeAndData = Array(png[(i + 4)..<(i + 8 + length)])
      XCTAssertEqual(UInt32(u32(i + 8 + length)), Gzip.crc32(typeAndData[...]), "chunk CRC")
      chunks.append((String(decoding: typeAndData[0..<4], as: UTF8.self), Array(typeAndData[4...])))
      i += 12 + length
    }
    XCTAssertEqual(chunks.map(\.0), ["IHDR", "IDAT", "IEND"])
    let header = chunks[0].1
    let width = (0..<4).reduce(0) { $0 << 8 | Int(header[$1]) }
    let height = (4..<8).reduce(0) { $0 << 8 | Int(header[$1]) }
    XCTAssertEqual([width, height], [f.width, f.height])
    XCTAssertEqual(Array(header[8...]), [8, 2, 0, 0, 0])
    // zlib: a 2-byte header, raw deflate, a 4-byte Adler-32.
    let zlib = chunks[1].1
    XCTAssertEqual((Int(zlib[0]) << 8 | Int(zlib[1])) % 31, 0)
    let raw = try Gzip.inflateRaw(zlib[2..<(zlib.count - 4)], expectedSize: (width * 3 + 1) * height, source: "png")
    let rows = (0..<height).map { Array(raw[($0 * (width * 3 + 1))..<(($0 + 1) * (width * 3 + 1))]) }
    XCTAssertTrue(rows.allSatisfy { $0[0] == 0 }, "filter type 0 on every row")
    let pixels = rows.flatMap { $0.dropFirst() }
    XCTAssertEqual(Array(pixels[0..<3]), [255, 255, 255], "white background")
    let blue = stride(from: 0, to: pixels.count, by: 3).filter {
      pixels[$0] == 0 && pixels[$0 + 1] == 0 && pixels[$0 + 2] == 255
    }
    XCTAssertGreaterThan(blue.count, 200, "the curves are drawn in the book's blue")
  }

  func testSVGIsWellFormedAndDrawsEveryPoint() throws {
    let f = try ReportCurves.figure(report: trainReport, source: "r")
    let svg = Render.svg(f)
    final class Counter: NSObject, XMLParserDelegate {
      var elements: [String: Int] = [:]
      func parser(
        _ p: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
        attributes: [String: String] = [:]
      ) {
        elements[name, default: 0] += 1
      }
    }
    let parser = XMLParser(data: Data(svg.utf8))
    let counter = Counter()
    parser.delegate = counter
    XCTAssertTrue(parser.parse(), "\(parser.parserError.map { "\($0)" } ?? "")")
    XCTAssertEqual(counter.elements["svg"], 1)
    // Four training points per panel as dots, plus one legend dot per panel.
    XCTAssertEqual(counter.elements["circle"], 4 + 4 + 2)
    XCTAssertTrue(svg.contains("Training and validation accuracy"))
  }

  func testFontCoversPrintableASCII() {
    XCTAssertEqual(BitmapFont.glyphs.count, 95)
    XCTAssertTrue(BitmapFont.glyphs.allSatisfy { $0.count == BitmapFont.height && $0.allSatisfy { $0 < 32 } })
    XCTAssertEqual(BitmapFont.rows("A"), BitmapFont.glyphs[33])
    XCTAssertEqual(BitmapFont.rows("é"), BitmapFont.rows("?"))
    XCTAssertEqual(Ticks.positions(0, 1, step: Ticks.step(0, 1)), [0, 0.2, 0.4, 0.6000000000000001, 0.8, 1])
  }
}
