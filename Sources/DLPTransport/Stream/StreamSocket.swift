import Foundation

/// One TCP connection of the stream ring, as a non-blocking file descriptor: connect with a
/// deadline, vectored sends that never raise SIGPIPE, reads that say when the peer closed.
///
/// The ring drives its two connections (to the successor and from the predecessor) from one
/// thread with `poll`, the way MPI's tcp transport does, so a rank runs one thread where the
/// ZeroMQ ring runs three (the caller's and two I/O threads), and received floats land where
/// they belong instead of in a ZeroMQ frame first.
final class StreamSocket {
  private(set) var fd: Int32

  /// Takes ownership of `fd` and makes it non-blocking, with Nagle off (a chunk's header must
  /// not wait for the previous chunk's acknowledgement).
  init(adopting fd: Int32) throws {
    self.fd = fd
    let flags = fcntl(fd, F_GETFL)
    guard flags >= 0, fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0 else {
      let e = errno
      Glibc.close(fd)
      throw StreamSocket.error("fcntl(O_NONBLOCK)", e)
    }
    var one: Int32 = 1
    _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    Self.setBuffers(fd)
  }

  /// The kernel buffers the ring asks for: 4 MiB each way, where the system allows that much
  /// (`net.core.rmem_max` / `wmem_max`); else nil, and the kernel autotunes. On 2 ranks of a
  /// 2-vCPU machine whose limits were 4 MiB, 16 MiB all-reduces ran at a median 1.50 GB/s with
  /// them against 1.22 autotuned (6 alternating pairs; 2 MiB did worse than autotuning, and 4 MiB
  /// all-reduces were the same either way). Asking for more than the limit would get the limit
  /// and lose autotuning, which on a stock kernel (208 KiB) costs far more than it gives.
  static let bufferBytes: Int32? = {
    func limit(_ name: String) -> Int? {
      (try? String(contentsOfFile: "/proc/sys/net/core/\(name)", encoding: .utf8))
        .flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
    }
    let wanted = 4 << 20
    guard let r = limit("rmem_max"), let w = limit("wmem_max"), r >= wanted, w >= wanted else { return nil }
    return Int32(wanted)
  }()

  static func setBuffers(_ fd: Int32) {
    guard var bytes = bufferBytes else { return }
    let size = socklen_t(MemoryLayout<Int32>.size)
    _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bytes, size)
    _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, size)
  }

  deinit { close() }

  func close() {
    if fd >= 0 {
      Glibc.close(fd)
      fd = -1
    }
  }

  /// Connects to `tcp://HOST:PORT`, trying each address HOST resolves to (IPv4 first) until
  /// `deadline` (uptime nanoseconds); a refused connection is retried until then, since the
  /// peer's listener may belong to a process that is still starting.
  static func connect(to endpoint: String, deadline: UInt64, peer: Int) throws -> StreamSocket {
    let (host, port) = try StreamEndpoint.parse(endpoint)
    var lastError = "no address"
    while true {
      for address in try AddressResolution.resolve(host) {
        do {
          return try connectOnce(address: address, port: port, deadline: deadline)
        } catch let error as StreamConnectError {
          lastError = error.message
        }
      }
      if DispatchTime.now().uptimeNanoseconds >= deadline {
        throw TransportError.unreachable(peer: peer, "cannot connect to \(endpoint): \(lastError)")
      }
      usleep(20_000)  // the listener is not up yet: try again shortly, within the deadline
    }
  }

  private struct StreamConnectError: Error { let message: String }

  private static func connectOnce(address: String, port: UInt16, deadline: UInt64) throws
    -> StreamSocket
  {
    var storage = sockaddr_storage()
    let length = try StreamEndpoint.socketAddress(address, port: port, into: &storage)
    let fd = socket(
      Int32(storage.ss_family), Int32(SOCK_STREAM.rawValue | SOCK_CLOEXEC.rawValue), 0)
    guard fd >= 0 else { throw error("socket", errno) }
    let s = try StreamSocket(adopting: fd)
    let rc = withUnsafePointer(to: &storage) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, length) }
    }
    if rc == 0 { return s }
    guard errno == EINPROGRESS else {
      throw StreamConnectError(message: String(cString: strerror(errno)))
    }
    while true {
      let now = DispatchTime.now().uptimeNanoseconds
      guard now < deadline else { throw StreamConnectError(message: "timed out") }
      var item = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0)
      let ms = Int32(min(100, max(1, (deadline - now) / 1_000_000)))
      let n = poll(&item, 1, ms)
      if n < 0 && errno != EINTR { throw error("poll", errno) }
      if n > 0 { break }
    }
    var soError: Int32 = 0
    var size = socklen_t(MemoryLayout<Int32>.size)
    guard getsockopt(fd, SOL_SOCKET, SO_ERROR, &soError, &size) == 0, soError == 0 else {
      throw StreamConnectError(message: String(cString: strerror(soError)))
    }
    return s
  }

  /// Writes as much of `iov` as the kernel takes now; returns the bytes written (0 when the
  /// socket's buffer is full). Throws when the peer is gone.
  func send(_ iov: UnsafeMutablePointer<iovec>, count: Int, peer: Int) throws -> Int {
    var message = msghdr()
    message.msg_iov = iov
    message.msg_iovlen = count
    while true {
      let n = sendmsg(fd, &message, Int32(MSG_NOSIGNAL) | Int32(MSG_DONTWAIT))
      if n >= 0 { return n }
      switch errno {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK: return 0
      default:
        throw TransportError.unreachable(
          peer: peer, "sending to it failed: \(String(cString: strerror(errno)))")
      }
    }
  }

  /// Reads up to `count` bytes into `into`; returns how many (0 when nothing is waiting). Throws
  /// when the peer closed the connection or it broke.
  func receive(into: UnsafeMutableRawPointer, count: Int, peer: Int) throws -> Int {
    while true {
      let n = recv(fd, into, count, Int32(MSG_DONTWAIT))
      if n > 0 { return n }
      if n == 0 {
        throw TransportError.unreachable(peer: peer, "it closed the connection")
      }
      switch errno {
      case EINTR: continue
      case EAGAIN, EWOULDBLOCK: return 0
      default:
        throw TransportError.unreachable(
          peer: peer, "receiving from it failed: \(String(cString: strerror(errno)))")
      }
    }
  }

  static func error(_ operation: String, _ code: Int32) -> TransportError {
    .system(operation: operation, errno: code, message: String(cString: strerror(code)))
  }
}

/// `tcp://HOST:PORT` endpoints of stream listeners, and the socket addresses behind them.
enum StreamEndpoint {
  static func parse(_ endpoint: String) throws -> (host: String, port: UInt16) {
    guard endpoint.utf8.count <= 1024, let host = AddressResolution.host(ofEndpoint: endpoint),
      let colon = endpoint.lastIndex(of: ":"),
      let port = UInt16(endpoint[endpoint.index(after: colon)...]), port > 0
    else {
      throw TransportError.invalidArgument(
        "'\(endpoint.prefix(100))' is not a stream endpoint (tcp://HOST:PORT)")
    }
    return (host, port)
  }

  /// Fills `storage` with `address` (an IPv4 or IPv6 literal) and `port`; returns its length.
  static func socketAddress(_ address: String, port: UInt16, into storage: inout sockaddr_storage)
    throws -> socklen_t
  {
    storage = sockaddr_storage()
    return try withUnsafeMutablePointer(to: &storage) { p -> socklen_t in
      var a4 = in_addr()
      if inet_pton(AF_INET, address, &a4) == 1 {
        return p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) {
          $0.pointee.sin_family = sa_family_t(AF_INET)
          $0.pointee.sin_port = port.bigEndian
          $0.pointee.sin_addr = a4
          return socklen_t(MemoryLayout<sockaddr_in>.size)
        }
      }
      var a6 = in6_addr()
      if inet_pton(AF_INET6, address, &a6) == 1 {
        return p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) {
          $0.pointee.sin6_family = sa_family_t(AF_INET6)
          $0.pointee.sin6_port = port.bigEndian
          $0.pointee.sin6_addr = a6
          return socklen_t(MemoryLayout<sockaddr_in6>.size)
        }
      }
      throw TransportError.invalidArgument("'\(address)' is not an IP address")
    }
  }
}
