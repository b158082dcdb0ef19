import DLPTransport
import XCTest

/// Host names, the interface toward a peer, and what counts as reachable from elsewhere.
final class AddressResolutionTests: XCTestCase {
  func testEndpointHosts() {
    XCTAssertEqual(AddressResolution.host(ofEndpoint: "tcp://dlp-head:5555"), "dlp-head")
    XCTAssertEqual(AddressResolution.host(ofEndpoint: "tcp://10.0.0.1:*"), "10.0.0.1")
    XCTAssertEqual(AddressResolution.host(ofEndpoint: "tcp://[::1]:5555"), "::1")
    XCTAssertNil(AddressResolution.host(ofEndpoint: "ipc:///tmp/x"))
    XCTAssertNil(AddressResolution.host(ofEndpoint: "tcp://:5"))
  }

  func testNamesResolveAndUnknownNamesSaySo() throws {
    XCTAssertEqual(try AddressResolution.resolve("127.0.0.1"), ["127.0.0.1"])
    XCTAssertTrue(try AddressResolution.resolve("localhost").contains("127.0.0.1"))
    XCTAssertThrowsTransportError(try AddressResolution.resolve("no-such-host.invalid")) {
      if case .unreachable(_, let text) = $0 {
        return text.contains("no-such-host.invalid")
      } else {
        return false
      }
    }
  }

  func testTheRouteTowardAPeer() {
    XCTAssertEqual(AddressResolution.localAddress(toward: "127.0.0.1"), "127.0.0.1")
    XCTAssertEqual(
      AddressResolution.localAddress(toward: "localhost"), "127.0.0.1", "a name is resolved first")
    XCTAssertNil(AddressResolution.localAddress(toward: "no-such-host.invalid"))
    XCTAssertTrue(AddressResolution.isLocalAddress("127.0.0.1"))
    XCTAssertFalse(
      AddressResolution.isLocalAddress("198.51.100.77"), "TEST-NET-2 is nobody's address")
  }

  func testWhatIsReachableOnlyFromThisHost() {
    for local in [
      "tcp://127.0.0.1:5555", "tcp://127.0.0.5:1", "tcp://localhost:9", "tcp://lo:5555",
      "ipc:///tmp/dlp", "inproc://x", "tcp://[::1]:5",
    ] {
      XCTAssertTrue(AddressResolution.isLocalOnly(bindEndpoint: local), local)
    }
    for exposed in [
      "tcp://0.0.0.0:5555", "tcp://*:5555", "tcp://[::]:5", "tcp://198.51.100.1:5555",
      "tcp://eth0:5555", "tcp://no-such-host.invalid:5",
    ] {
      XCTAssertFalse(AddressResolution.isLocalOnly(bindEndpoint: exposed), exposed)
    }
  }

  func testTheRingListenerBindsTheInterfaceItAdvertises() {
    XCTAssertEqual(
      RingAddress.choose(connect: "tcp://localhost:5555", advertise: nil),
      RingAddress(bindHost: "127.0.0.1", advertiseHost: "127.0.0.1"))
    XCTAssertEqual(
      RingAddress.choose(connect: "tcp://127.0.0.1:5555", advertise: "127.0.0.1"),
      RingAddress(bindHost: "127.0.0.1", advertiseHost: "127.0.0.1"))
    // NAT: an address that is not this host's is advertised; the listener takes every interface.
    XCTAssertEqual(
      RingAddress.choose(connect: "tcp://127.0.0.1:5555", advertise: "198.51.100.7"),
      RingAddress(bindHost: "0.0.0.0", advertiseHost: "198.51.100.7"))
    XCTAssertEqual(
      RingAddress.choose(connect: "ipc:///tmp/c", advertise: nil).bindEndpoint, "tcp://127.0.0.1:*")
  }
}

extension AddressResolutionTests {
  func testBindEndpointsGetAddressesForNames() throws {
    XCTAssertEqual(try AddressResolution.bindable("tcp://localhost:5555"), "tcp://127.0.0.1:5555")
    for same in [
      "tcp://0.0.0.0:5555", "tcp://*:*", "tcp://127.0.0.1:9", "tcp://lo:5", "ipc:///tmp/x",
      "tcp://[::1]:5",
    ] {
      XCTAssertEqual(try AddressResolution.bindable(same), same)
    }
    XCTAssertThrowsError(try AddressResolution.bindable("tcp://no-such-host.invalid:5"))
  }
}
