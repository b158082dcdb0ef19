import DLPTensor
import XCTest

@testable import DLPData

final class NPZWriterTests: XCTestCase {
  func weights() throws -> NPZWriter {
    var writer = NPZWriter()
    try writer.add("dense/kernel", try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
    try writer.add("dense/bias", Tensor([0.5, -0.25]))
    try writer.add("dense_1/kernel", Tensor(repeating: 0, shape: [0, 4]))
    try writer.add("ünïcode/scale", Tensor(3))
    return writer
  }

  func testAtomicWriteAndReadBack() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let url = folder.appendingPathComponent("weights.npz")
    try weights().write(to: url)
    try weights().write(to: url)  // overwriting an existing file is atomic too
    // No temporary files are left behind.
    XCTAssertEqual(
      try FileManager.default.contentsOfDirectory(atPath: folder.path), ["weights.npz"])
    let archive = try NPZArchive(contentsOf: url)
    XCTAssertEqual(
      archive.arrayNames, ["dense/kernel", "dense/bias", "dense_1/kernel", "ünïcode/scale"])
    XCTAssertEqual(
      try archive.array("dense/kernel").tensor(),
      try Tensor(shape: [3, 2], scalars: [1, 2, 3, 4, 5, 6]))
    XCTAssertEqual(try archive.array("dense/bias").tensor(), Tensor([0.5, -0.25]))
    XCTAssertEqual(try archive.array("dense_1/kernel").shape, [0, 4])
    XCTAssertEqual(try archive.array("ünïcode/scale").tensor(), Tensor(3))
    // Deterministic bytes: the same weights give the same file.
    XCTAssertEqual(try FileIO.readBytes(url), try weights().archiveBytes())
  }

  func testRejectsDuplicatesAndObjectArrays() throws {
    var writer = try weights()
    assertDataError("duplicate", "dense/bias") { try writer.add("dense/bias", Tensor([1])) }
    assertDataError("must not be empty") { try writer.add("", Tensor([1])) }
    assertDataError("object array") {
      try writer.add("seq", try NPYArray(shape: [1], sequences: [[1, 2]]))
    }
  }

  func testWriteFailureNamesThePath() throws {
    let url = URL(fileURLWithPath: "/nonexistent-dir-\(UUID().uuidString)/w.npz")
    XCTAssertThrowsError(try weights().write(to: url)) { error in
      guard case DLPError.io(let message) = error else { return XCTFail("\(error)") }
      XCTAssertTrue(message.contains("/nonexistent-dir-"), message)
    }
  }

  /// numpy must open what we write. Python is optional here: the test skips without it.
  func testNumpyCanLoadIt() throws {
    let folder = try TestFiles.temporaryFolder(self)
    let url = folder.appendingPathComponent("w.npz")
    try weights().write(to: url)
    let script = """
      import numpy as np, sys
      f = np.load(sys.argv[1])
      assert f.files == ['dense/kernel', 'dense/bias', 'dense_1/kernel', 'ünïcode/scale'], f.files
      assert f['dense/kernel'].dtype == np.float32 and f['dense/kernel'].tolist() == [[1,2],[3,4],[5,6]]
      assert f['dense/bias'].tolist() == [0.5, -0.25]
      assert f['dense_1/kernel'].shape == (0, 4) and f['ünïcode/scale'].shape == ()
      print('ok')
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, url.path]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { throw XCTSkip("python3 not available; skipping") }
    process.waitUntilExit()
    let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    if output.contains("No module named") || output.contains("No such file") {
      throw XCTSkip("python3 with numpy not available; skipping")
    }
    XCTAssertEqual(process.terminationStatus, 0, output)
    XCTAssertEqual(output.trimmingCharacters(in: .whitespacesAndNewlines), "ok")
  }
}
