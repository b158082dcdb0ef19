import DLPTransport
import Foundation
import XCTest

/// A socket's frame cap (`maxMessageSize`) holds for the frames themselves whether or not CURVE
/// encrypts them: a frame right at the cap still arrives under CURVE (its wire form is 33 bytes
/// longer). It used to be refused and the connection dropped, so every full 256 KiB chunk of
/// the central collective was lost in a secured job and training stalled.
final class CurveFrameLimitTests: XCTestCase {
  func testAFrameAtTheCapArrivesUnderCurve() throws {
    let cap = 256 << 10
    let server = try CurveKeyPair.generate()
    let client = try CurveKeyPair.generate()
    let serverContext = try ZMQContext()
    let security = try SocketSecurity(
      context: serverContext,
      options: .curve(
        CurveCredentials(keyPair: server, authorizedKeys: ["client": client.publicKey])))
    let pull = try ZMQSocket(
      context: serverContext, kind: .pull,
      options: security.server(.init(maxMessageSize: Int64(cap))))
    let endpoint = try pull.bind("tcp://127.0.0.1:*")
    let clientContext = try ZMQContext()
    let push = try ZMQSocket(
      context: clientContext, kind: .push,
      options: ZMQSocket.Options(sendTimeout: 5).secured(
        .client(client, serverKey: server.publicKey)))
    try push.connect(endpoint)
    let frame = (0..<cap).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    try push.send(frame)
    try push.send([1, 2, 3])
    let first = try pull.receiveMultipart(timeout: 10)
    XCTAssertEqual(first.first?.array, frame, "the full-size frame did not arrive intact")
    XCTAssertEqual(try pull.receiveMultipart(timeout: 10).first?.array, [1, 2, 3])
  }
}
