import CZMQ
import Foundation
import XCTest

@testable import DLPTransport

/// How the ring sets up its memory and sockets for speed: received frames reuse the arena
/// (`FrameMemory`), socket buffer options reach the kernel.
final class RingMemoryTests: XCTestCase {
  func testARingKeepsFrameMemoryMapped() throws {
    let env = ProcessInfo.processInfo.environment
    if env.keys.contains(where: { $0.hasPrefix("MALLOC_") }) || env["GLIBC_TUNABLES"] != nil {
      throw XCTSkip("malloc settings from the environment win over the ring's; nothing to check")
    }
    let chunk = 256 << 10
    let results = withRing(ranks: 2, chunkBytes: chunk) { rank, ring -> Void in
      var b = closedFormInput(rank: rank, count: 3 * chunk / 4)
      try b.withUnsafeMutableBufferPointer { try ring.run($0, step: 0, tensorID: 0) }
    }
    for r in results { XCTAssertNoThrow(try r.get()) }
    let (mmap, trim) = FrameMemory.thresholds
    XCTAssertGreaterThan(mmap, chunk, "frames of a chunk would still be fresh mappings")
    XCTAssertGreaterThanOrEqual(trim, 2 * mmap)
    // Only ever raised.
    FrameMemory.keepMapped(frameBytes: 1024, retained: 4096)
    XCTAssertEqual(FrameMemory.thresholds.mmap, mmap)
  }

  func testSocketBufferOptionsReachTheKernel() throws {
    var o = ZMQSocket.Options()
    o.sendBufferBytes = 1 << 20
    o.receiveBufferBytes = 512 << 10
    let s = try ZMQSocket(context: try ZMQContext(), kind: .pull, options: o)
    XCTAssertEqual(try s.int32Option(ZMQ_SNDBUF), 1 << 20)
    XCTAssertEqual(try s.int32Option(ZMQ_RCVBUF), 512 << 10)
    let plain = try ZMQSocket(context: try ZMQContext(), kind: .pull)
    XCTAssertEqual(try plain.int32Option(ZMQ_SNDBUF), -1)  // the OS's autotuning
  }
}
