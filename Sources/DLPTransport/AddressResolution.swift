import Foundation

/// Addresses that work across hosts: host names resolved with getaddrinfo (so `/etc/hosts`,
/// DNS and Slurm's or Kubernetes's names work as they do for every other program), the local
/// interface that routes to a peer, and whether an endpoint is reachable beyond this host.
///
/// IPv4 is preferred: DLP's sockets leave `ZMQ_IPV6` off, so IPv6-only hosts need
/// `--advertise` and are not supported by the ring's bind choice.
public enum AddressResolution {
  /// The host of `tcp://HOST:PORT` (brackets of an IPv6 literal removed); nil for other
  /// transports or a malformed endpoint.
  public static func host(ofEndpoint endpoint: String) -> String? {
    guard endpoint.hasPrefix("tcp://") else { return nil }
    let rest = endpoint.dropFirst("tcp://".count)
    guard let colon = rest.lastIndex(of: ":") else { return nil }
    var host = String(rest[..<colon])
    if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    return host.isEmpty ? nil : host
  }

  /// The addresses `host` resolves to (IP literals resolve to themselves), IPv4 first, in the
  /// resolver's order, without duplicates. Throws with getaddrinfo's reason when it fails.
  public static func resolve(_ host: String) throws -> [String] {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    var list: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, nil, &hints, &list)
    guard rc == 0 else {
      throw TransportError.unreachable(
        peer: nil, "cannot resolve host name '\(host)': \(String(cString: gai_strerror(rc)))")
    }
    defer { freeaddrinfo(list) }
    var v4: [String] = []
    var v6: [String] = []
    var node = list
    while let n = node {
      if let address = n.pointee.ai_addr,
        let text = numericHost(address, length: n.pointee.ai_addrlen)
      {
        if n.pointee.ai_family == AF_INET {
          if !v4.contains(text) { v4.append(text) }
        } else if n.pointee.ai_family == AF_INET6 {
          if !v6.contains(text) { v6.append(text) }
        }
      }
      node = n.pointee.ai_next
    }
    return v4 + v6
  }

  /// The local IPv4 address the kernel would send from to reach `host` (a name or an IPv4
  /// literal): a UDP socket connected to it sends nothing but picks the route and so the
  /// interface. nil when `host` does not resolve to IPv4 or no route leads there.
  public static func localAddress(toward host: String) -> String? {
    guard let target = (try? resolve(host))?.first(where: { !$0.contains(":") }) else { return nil }
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return nil }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(9).bigEndian
    guard inet_pton(AF_INET, target, &address.sin_addr) == 1 else { return nil }
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { return nil }
    var local = sockaddr_in()
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let named = withUnsafeMutablePointer(to: &local) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    guard named == 0 else { return nil }
    return withUnsafePointer(to: &local) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        numericHost($0, length: socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
  }

  /// Whether `address` (an IPv4 or IPv6 literal) is assigned to this host: a UDP socket can be
  /// bound to it.
  public static func isLocalAddress(_ address: String) -> Bool {
    var a4 = sockaddr_in()
    a4.sin_family = sa_family_t(AF_INET)
    guard inet_pton(AF_INET, address, &a4.sin_addr) == 1 else { return false }
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { return false }
    defer { close(fd) }
    return withUnsafePointer(to: &a4) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0
      }
    }
  }

  /// Whether an IP literal is a loopback address (127.0.0.0/8, ::1, ::ffff:127.x).
  public static func isLoopbackLiteral(_ address: String) -> Bool {
    if address == "::1" { return true }
    let v4 = address.hasPrefix("::ffff:") ? String(address.dropFirst("::ffff:".count)) : address
    var a = in_addr()
    guard inet_pton(AF_INET, v4, &a) == 1 else { return false }
    return UInt32(bigEndian: a.s_addr) >> 24 == 127
  }

  /// Whether a socket bound at `endpoint` can only be reached from this host: ipc and inproc
  /// endpoints, tcp on a loopback address, on the `lo` interface, or on a name whose every
  /// address is loopback. Wildcards (`*`, 0.0.0.0, ::), other addresses and names that do not
  /// resolve count as reachable from elsewhere.
  public static func isLocalOnly(bindEndpoint endpoint: String) -> Bool {
    if endpoint.hasPrefix("ipc://") || endpoint.hasPrefix("inproc://") { return true }
    guard var host = host(ofEndpoint: endpoint) else { return false }
    // ZeroMQ's "interface;address" and "source:..." forms: judge the address part.
    if let semicolon = host.lastIndex(of: ";") {
      host = String(host[host.index(after: semicolon)...])
    }
    if ["*", "0.0.0.0", "::", ""].contains(host) { return false }
    if host == "lo" { return true }
    if isLoopbackLiteral(host) { return true }
    guard let addresses = try? resolve(host), !addresses.isEmpty else { return false }
    return addresses.allSatisfy(isLoopbackLiteral)
  }

  /// `endpoint` with a host name replaced by its first IPv4 address, for `zmq_bind`, which
  /// takes addresses and interface names but does not resolve names. Addresses, wildcards,
  /// interface names (`eth0`) and non-tcp endpoints come back unchanged.
  public static func bindable(_ endpoint: String) throws -> String {
    guard let host = host(ofEndpoint: endpoint), let colon = endpoint.lastIndex(of: ":") else {
      return endpoint
    }
    if ["*", "0.0.0.0", "::"].contains(host) || host.contains(";") || isIPLiteral(host)
      || if_nametoindex(host) != 0
    {
      return endpoint
    }
    guard let address = try resolve(host).first(where: { !$0.contains(":") }) else {
      throw TransportError.unreachable(peer: nil, "host name '\(host)' has no IPv4 address to bind")
    }
    return "tcp://\(address)\(endpoint[colon...])"
  }

  /// Whether `text` is an IPv4 or IPv6 address literal.
  public static func isIPLiteral(_ text: String) -> Bool {
    var a4 = in_addr()
    var a6 = in6_addr()
    return inet_pton(AF_INET, text, &a4) == 1 || inet_pton(AF_INET6, text, &a6) == 1
  }

  static func numericHost(_ address: UnsafePointer<sockaddr>, length: socklen_t) -> String? {
    var buffer = [CChar](repeating: 0, count: Int(NI_MAXHOST))
    let rc = getnameinfo(address, length, &buffer, socklen_t(buffer.count), nil, 0, NI_NUMERICHOST)
    return rc == 0 ? String(cString: buffer) : nil
  }
}

/// Where a worker's ring listener binds and what it tells its peers.
public struct RingAddress: Sendable, Equatable {
  /// The host part of the listener's bind endpoint: one interface's address, not a wildcard,
  /// when one can be chosen.
  public var bindHost: String
  /// The host peers connect to (`HelloMessage.ringEndpoint`).
  public var advertiseHost: String

  public init(bindHost: String, advertiseHost: String) {
    self.bindHost = bindHost
    self.advertiseHost = advertiseHost
  }

  /// Chooses for a worker that connects to `connect` (`tcp://HOST:PORT`, HOST a name or an
  /// address): the interface that routes to the coordinator is the one its peers (on the
  /// coordinator's network) reach, so the listener binds there and advertises it. With
  /// `advertise` (NAT, Kubernetes: an address or name peers use that the route does not show)
  /// that is advertised instead; the listener binds to it when it is one of this host's
  /// addresses, else to every interface (0.0.0.0), since the traffic arrives translated.
  public static func choose(connect: String, advertise: String?) -> RingAddress {
    let coordinatorHost = AddressResolution.host(ofEndpoint: connect)
    let route = coordinatorHost.flatMap { AddressResolution.localAddress(toward: $0) }
    guard let advertise, !advertise.isEmpty else {
      if let route { return RingAddress(bindHost: route, advertiseHost: route) }
      // No route found (ipc coordinator, unresolvable name): loopback, as a local job.
      return RingAddress(bindHost: "127.0.0.1", advertiseHost: "127.0.0.1")
    }
    let candidates =
      AddressResolution.isLoopbackLiteral(advertise)
      ? [advertise] : ((try? AddressResolution.resolve(advertise)) ?? [])
    if let local = candidates.first(where: {
      !$0.contains(":") && AddressResolution.isLocalAddress($0)
    }) {
      return RingAddress(bindHost: local, advertiseHost: advertise)
    }
    return RingAddress(bindHost: "0.0.0.0", advertiseHost: advertise)
  }

  /// The listener's bind endpoint, any free port.
  public var bindEndpoint: String { "tcp://\(bindHost):*" }
}
