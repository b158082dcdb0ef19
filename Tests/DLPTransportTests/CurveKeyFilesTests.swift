import DLPTensor
import DLPTransport
import Foundation
import XCTest

/// Key files as `dlp keygen` writes them and secured processes read them; Z85; the ephemeral
/// keys a parent hands its local workers through a pipe.
final class CurveKeyFilesTests: XCTestCase {
  var dir = ""

  override func setUpWithError() throws {
    dir = NSTemporaryDirectory() + "dlp-keys-\(getpid())-\(UUID().uuidString.prefix(8))"
  }

  override func tearDown() {
    try? FileManager.default.removeItem(atPath: dir)
  }

  func mode(_ path: String) -> mode_t {
    var info = stat()
    stat(path, &info)
    return info.st_mode & 0o777
  }

  func assertConfigError(
    _ expression: @autoclosure () throws -> some Any, _ needles: [String],
    file: StaticString = #filePath, line: UInt = #line
  ) {
    do {
      _ = try expression()
      XCTFail("expected an error mentioning \(needles)", file: file, line: line)
    } catch {
      let text = "\(error)"
      for n in needles {
        XCTAssertTrue(text.contains(n), "'\(text)' does not mention '\(n)'", file: file, line: line)
      }
    }
  }

  func testZ85MatchesTheRFCVectorAndRoundTripsKeys() throws {
    // RFC 32's test vector: 86 4F D2 6F B5 59 F7 5B is "HelloWorld".
    let rfc = try CurveKey(
      bytes: [0x86, 0x4F, 0xD2, 0x6F, 0xB5, 0x59, 0xF7, 0x5B] + [UInt8](repeating: 0, count: 24))
    XCTAssertTrue(rfc.z85.hasPrefix("HelloWorld"))
    let pair = try CurveKeyPair.generate()
    XCTAssertEqual(pair.publicKey.z85.count, 40)
    XCTAssertEqual(try CurveKey(z85: pair.publicKey.z85 + "\n"), pair.publicKey)
    XCTAssertEqual(
      try CurveKeyPair(secretKey: pair.secretKey), pair, "the public key derives from the secret")
    XCTAssertFalse("\(pair)".contains(pair.secretKey.z85), "a key pair must never print its secret")
    assertConfigError(try CurveKey(z85: String(pair.publicKey.z85.dropLast())), ["40", "39"])
    assertConfigError(try CurveKey(z85: String(pair.publicKey.z85.dropLast()) + "~"), ["Z85"])
    // "#####" is 85^5 - 1, more than 32 bits.
    assertConfigError(try CurveKey(z85: "#####" + String(pair.publicKey.z85.dropFirst(5))), ["Z85"])
    assertConfigError(try CurveKey(bytes: [1, 2, 3]), ["32"])
  }

  func testKeygenWritesAPublicAndAPrivateFileAndNeverReplacesThemUnasked() throws {
    let pair = try CurveKeyPair.generate()
    let paths = try KeyFiles.write(pair, name: "w1", in: dir)
    XCTAssertEqual(mode(dir), 0o700, "a new key folder is private")
    XCTAssertEqual(mode(paths.secret), 0o600)
    XCTAssertEqual(mode(paths.public), 0o644)
    XCTAssertEqual(
      try String(contentsOfFile: paths.public, encoding: .utf8), pair.publicKey.z85 + "\n")
    XCTAssertEqual(try KeyFiles.loadKeyPair(secretFile: paths.secret), pair)
    XCTAssertEqual(try KeyFiles.loadPublicKey(paths.public), pair.publicKey)
    let other = try CurveKeyPair.generate()
    assertConfigError(
      try KeyFiles.write(other, name: "w1", in: dir), ["already exists", "--force"])
    XCTAssertEqual(
      try KeyFiles.loadKeyPair(secretFile: paths.secret), pair, "the refused write changed nothing")
    try KeyFiles.write(other, name: "w1", in: dir, force: true)
    XCTAssertEqual(try KeyFiles.loadKeyPair(secretFile: paths.secret), other)
    XCTAssertEqual(mode(paths.secret), 0o600)
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
      $0.hasSuffix(".tmp")
    }
    XCTAssertEqual(leftovers, [], "temporary files left behind")
    assertConfigError(try KeyFiles.write(other, name: "../evil", in: dir), ["name"])
  }

  func testASecretOthersCanReadIsRefusedWithTheFix() throws {
    let paths = try KeyFiles.write(try CurveKeyPair.generate(), name: "c", in: dir)
    for bits: mode_t in [0o640, 0o604, 0o660] {
      chmod(paths.secret, bits)
      assertConfigError(
        try KeyFiles.loadKeyPair(secretFile: paths.secret), [paths.secret, "chmod 600"])
    }
    chmod(paths.secret, 0o400)
    XCTAssertNoThrow(
      try KeyFiles.loadKeyPair(secretFile: paths.secret),
      "owner read-only is fine (systemd credentials are 0400)")
  }

  func testMalformedAndMissingKeyFilesSayWhatIsWrong() throws {
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    assertConfigError(
      try KeyFiles.loadKeyPair(secretFile: dir + "/none.key_secret"),
      ["none.key_secret", "dlp keygen"])
    assertConfigError(try KeyFiles.loadPublicKey(dir + "/none.key"), ["none.key"])
    let short = dir + "/short.key"
    try "abc\n".write(toFile: short, atomically: true, encoding: .utf8)
    assertConfigError(try KeyFiles.loadPublicKey(short), [short, "40"])
    let big = dir + "/big.key"
    try String(repeating: "x", count: 10_000).write(toFile: big, atomically: true, encoding: .utf8)
    assertConfigError(try KeyFiles.loadPublicKey(big), [big])
    let paths = try KeyFiles.write(try CurveKeyPair.generate(), name: "p", in: dir)
    assertConfigError(try KeyFiles.loadKeyPair(secretFile: paths.public), ["public key file"])
    assertConfigError(try KeyFiles.loadPublicKey(paths.secret), ["secret key file"])
  }

  func testAnAuthorizedKeysFolder() throws {
    let a = try CurveKeyPair.generate()
    let b = try CurveKeyPair.generate()
    let authorized = dir + "/authorized"
    try FileManager.default.createDirectory(atPath: authorized, withIntermediateDirectories: true)
    chmod(authorized, 0o755)
    assertConfigError(try KeyFiles.loadAuthorizedKeys(directory: authorized), ["no public keys"])
    assertConfigError(
      try KeyFiles.loadAuthorizedKeys(directory: dir + "/missing"), ["does not exist"])
    try KeyFiles.write(a, name: "worker-a", in: authorized)
    try KeyFiles.write(b, name: "worker-b", in: authorized)
    // Secret files beside them are not keys to admit.
    let keys = try KeyFiles.loadAuthorizedKeys(directory: authorized)
    XCTAssertEqual(keys, ["worker-a": a.publicKey, "worker-b": b.publicKey])
    chmod(authorized, 0o777)
    assertConfigError(
      try KeyFiles.loadAuthorizedKeys(directory: authorized), ["writable", "chmod go-w"])
    chmod(authorized, 0o755)
    try "not a key\n".write(toFile: authorized + "/bad.key", atomically: true, encoding: .utf8)
    chmod(authorized + "/bad.key", 0o644)
    assertConfigError(try KeyFiles.loadAuthorizedKeys(directory: authorized), ["bad.key"])
  }

  func testEphemeralKeysReachAChildThroughAPipeOnly() throws {
    let keys = try LocalCurveKeys.generate(workers: 2)
    guard case .curve(let server) = keys.coordinator else { return XCTFail("expected CURVE") }
    XCTAssertEqual(Set(server.authorizedKeys.values), Set(keys.workers.map(\.keyPair.publicKey)))
    XCTAssertTrue(keys.workers.allSatisfy { $0.serverKey == server.keyPair.publicKey })
    // The child (a shell) reads its fd 3 and prints it; nothing else holds the pipe.
    let credentials = keys.workers[1]
    let pipe = try CredentialPipe()
    let output = Pipe()
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    pipe.addToSpawn(&actions)
    posix_spawn_file_actions_adddup2(&actions, output.fileHandleForWriting.fileDescriptor, 1)
    let args = ["/bin/sh", "-c", "cat <&3"]
    var cargs = args.map { strdup($0) } + [nil]
    defer { for a in cargs { free(a) } }
    var pid: pid_t = 0
    XCTAssertEqual(posix_spawn(&pid, "/bin/sh", &actions, nil, &cargs, environ), 0)
    try pipe.send(CredentialHandoff.encode(credentials))
    try output.fileHandleForWriting.close()
    let received = output.fileHandleForReading.readDataToEndOfFile()
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    XCTAssertEqual(try CredentialHandoff.decode(Array(received)), credentials)
    XCTAssertThrowsError(try CredentialHandoff.decode(Array("secret x\n".utf8)))
  }
}
