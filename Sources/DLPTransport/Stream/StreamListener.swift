import Foundation
import Logging

/// The TCP port on which a stream-ring rank accepts its predecessor's connection, bound (like
/// `CollectiveListener`) before ranks are assigned so it can be announced.
///
/// Only unsecured jobs (`--insecure`) listen here: the stream ring has no encryption, and
/// secured jobs keep the ZeroMQ ring under CURVE. Anyone who reaches the port can connect, so
/// `acceptPredecessor` holds at most `maxPending` unidentified connections at a time, each for
/// at most a few seconds, reads exactly one 32-byte hello from each, and keeps only the
/// connection whose hello names this collective and the expected rank; the others are closed.
public final class StreamListener: @unchecked Sendable {
  private var fd: Int32
  /// `tcp://HOST:PORT`, with the port the kernel chose.
  public let endpoint: String
  /// Connections closed for not being our predecessor (strangers, other jobs or generations,
  /// other protocol versions), since the listener was made.
  public private(set) var droppedConnections = 0
  static let maxPending = 32
  private let logger = Logger(label: "dlp.transport.stream")

  /// Binds `host` (an IP literal; "0.0.0.0" for every interface) on a free port.
  public init(host: String) throws {
    var storage = sockaddr_storage()
    let length = try StreamEndpoint.socketAddress(host, port: 0, into: &storage)
    let fd = socket(
      Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw StreamSocket.error("socket", errno) }
    var one: Int32 = 1
    _ = setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
    // Before listen, so the window scale offered to the predecessor fits the buffer.
    StreamSocket.setBuffers(fd)
    let bound = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    guard bound == 0, listen(fd, 64) == 0 else {
      let e = errno
      Glibc.close(fd)
      throw StreamSocket.error("binding a stream listener on \(host)", e)
    }
    var local = sockaddr_storage()
    var size = socklen_t(MemoryLayout<sockaddr_storage>.size)
    let named = withUnsafeMutablePointer(to: &local) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &size) }
    }
    guard named == 0 else {
      let e = errno
      Glibc.close(fd)
      throw StreamSocket.error("getsockname", e)
    }
    let port: UInt16 =
      local.ss_family == sa_family_t(AF_INET6)
      ? withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          UInt16(bigEndian: $0.pointee.sin6_port)
        }
      }
      : withUnsafePointer(to: &local) {
        $0.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          UInt16(bigEndian: $0.pointee.sin_port)
        }
      }
    endpoint = host.contains(":") ? "tcp://[\(host)]:\(port)" : "tcp://\(host):\(port)"
    let flags = fcntl(fd, F_GETFL)
    _ = fcntl(fd, F_SETFL, flags | O_NONBLOCK)
    self.fd = fd
  }

  deinit { close() }

  /// Stops listening: later connections are refused by the kernel.
  public func close() {
    if fd >= 0 {
      Glibc.close(fd)
      fd = -1
    }
  }

  /// The endpoint with its host replaced by `host` (for a wildcard bind).
  public func advertisedEndpoint(host: String) -> String {
    guard let colon = endpoint.lastIndex(of: ":") else { return endpoint }
    let h = host.contains(":") && !host.hasPrefix("[") ? "[\(host)]" : host
    return "tcp://\(h)\(endpoint[colon...])"
  }

  /// A connection that has not yet sent its whole hello.
  private final class Pending {
    let socket: StreamSocket
    let since: UInt64
    var bytes = [UInt8](repeating: 0, count: StreamHello.size)
    var filled = 0
    init(_ socket: StreamSocket, since: UInt64) {
      self.socket = socket
      self.since = since
    }
  }

  /// Waits until rank `expected.senderRank` of collective `expected.collectiveID` has connected
  /// and said hello, and returns that connection. Everything else that connects meanwhile is
  /// closed and counted. Throws on timeout or cancellation, or when a connection of this very
  /// collective disagrees about the ring (another world size or chunk grid: a misconfigured
  /// member, not a stranger).
  func acceptPredecessor(
    _ expected: StreamHello, timeout: Double, cancellation: Cancellation?, operation: String
  ) throws -> StreamSocket {
    guard fd >= 0 else { throw TransportError.invalidArgument("the stream listener is closed") }
    let peer = Int(expected.senderRank)
    let start = DispatchTime.now().uptimeNanoseconds
    let deadline = start + UInt64(timeout * 1e9)
    // A stranger may hold a slot for this long before it is closed.
    let helloNanos = UInt64(min(timeout, 5) * 1e9)
    var pending: [Pending] = []
    var refusedVersion: UInt32?
    while true {
      if let cancellation, cancellation.isCancelled {
        throw TransportError.cancelled(operation: operation)
      }
      // New connections.
      while true {
        let c = accept(fd, nil, nil)
        guard c >= 0 else { break }
        _ = fcntl(c, F_SETFD, FD_CLOEXEC)
        let now = DispatchTime.now().uptimeNanoseconds
        if pending.count >= Self.maxPending {
          pending.removeFirst()  // closed by its deinit
          drop("a connection beyond \(Self.maxPending) unidentified ones")
        }
        pending.append(Pending(try StreamSocket(adopting: c), since: now))
      }
      // Hellos.
      var i = 0
      while i < pending.count {
        let p = pending[i]
        var verdict: Bool? = nil  // true: ours, false: drop, nil: keep waiting
        do {
          let n = try p.bytes.withUnsafeMutableBytes {
            try p.socket.receive(
              into: $0.baseAddress! + p.filled, count: StreamHello.size - p.filled, peer: peer)
          }
          p.filled += n
        } catch {
          verdict = false
        }
        if verdict == nil, p.filled == StreamHello.size {
          guard let hello = p.bytes.withUnsafeBytes({ StreamHello($0.baseAddress!) }) else {
            pending.remove(at: i)
            drop("a connection that did not start with a stream hello")
            continue
          }
          if hello.version != expected.version {
            refusedVersion = hello.version
            verdict = false
          } else if hello.collectiveID != expected.collectiveID {
            verdict = false
          } else {
            guard hello.senderRank == expected.senderRank, hello.worldSize == expected.worldSize,
              hello.chunkElements == expected.chunkElements
            else {
              throw TransportError.malformed(
                peer: Int(hello.senderRank),
                "stream hello of rank \(hello.senderRank) of \(hello.worldSize) with chunks of \(hello.chunkElements) elements; this rank expects rank \(expected.senderRank) of \(expected.worldSize) with chunks of \(expected.chunkElements)"
              )
            }
            verdict = true
          }
        }
        if verdict == nil, DispatchTime.now().uptimeNanoseconds - p.since > helloNanos {
          verdict = false
        }
        switch verdict {
        case true?:
          return pending.remove(at: i).socket
        case false?:
          pending.remove(at: i)
          drop("a connection that is not rank \(peer) of this collective")
        case nil:
          i += 1
        }
      }
      let now = DispatchTime.now().uptimeNanoseconds
      guard now < deadline else {
        let why =
          refusedVersion.map {
            "; a peer of protocol \($0) was refused (this is \(expected.version))"
          } ?? ""
        throw TransportError.timeout(peer: peer, operation: operation + why, seconds: timeout)
      }
      var items = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0)]
      for p in pending { items.append(pollfd(fd: p.socket.fd, events: Int16(POLLIN), revents: 0)) }
      let ms = Int32(min(50, max(1, (deadline - now) / 1_000_000)))
      if poll(&items, nfds_t(items.count), ms) < 0, errno != EINTR {
        throw StreamSocket.error("poll", errno)
      }
    }
  }

  private func drop(_ what: String) {
    droppedConnections += 1
    if droppedConnections <= 10 || droppedConnections % 1000 == 0 {
      logger.warning(
        "closed a stream connection",
        metadata: ["why": "\(what)", "dropped_so_far": "\(droppedConnections)"])
    }
  }
}
