import DLPProto
import Foundation

/// Worker -> coordinator, the first message: who the worker is and what data it can load.
public struct HelloMessage: WireMessage {
  public static let kind = MessageKind.hello
  /// The sender's `DLPProtocol.version`; the coordinator rejects other versions.
  public var protocolVersion: UInt32
  /// A stable identity the worker chose (survives reconnects).
  public var workerID: String
  public var hostname: String
  public var pid: Int32
  public var blasThreads: Int32
  /// Content hash of the dataset the worker loaded (0: it has none; data will be shipped).
  public var datasetHash: UInt64
  public var datasetName: String
  /// Where the worker's ring listener is bound ("" when it has none).
  public var ringEndpoint: String
  /// `HostIdentity.current` of the worker ("" when unknown): equal identities can share memory.
  public var hostIdentity: String

  public init(
    protocolVersion: UInt32 = DLPProtocol.version, workerID: String, hostname: String = "",
    pid: Int32 = 0,
    blasThreads: Int32 = 1, datasetHash: UInt64 = 0, datasetName: String = "",
    ringEndpoint: String = "", hostIdentity: String = ""
  ) {
    self.protocolVersion = protocolVersion
    self.workerID = workerID
    self.hostname = hostname
    self.pid = pid
    self.blasThreads = blasThreads
    self.datasetHash = datasetHash
    self.datasetName = datasetName
    self.ringEndpoint = ringEndpoint
    self.hostIdentity = hostIdentity
  }

  /// A Hello describing this process (host name and pid filled in).
  public static func local(
    workerID: String, blasThreads: Int32, datasetHash: UInt64 = 0, datasetName: String = "",
    ringEndpoint: String = ""
  ) -> HelloMessage {
    let info = ProcessInfo.processInfo
    return HelloMessage(
      workerID: workerID, hostname: info.hostName, pid: info.processIdentifier,
      blasThreads: blasThreads,
      datasetHash: datasetHash, datasetName: datasetName, ringEndpoint: ringEndpoint,
      hostIdentity: HostIdentity.current)
  }

  public var message: Message { .hello(self) }

  public func pack(into out: inout [UInt8]) {
    var strings = CStringPool()
    defer { strings.free() }
    var c = Dlp__Hello()
    dlp__hello__init(&c)
    c.protocol_version = protocolVersion
    c.worker_id = strings.dup(workerID)
    c.hostname = strings.dup(hostname)
    c.pid = pid
    c.blas_threads = blasThreads
    c.dataset_hash = datasetHash
    c.dataset_name = strings.dup(datasetName)
    c.ring_endpoint = strings.dup(ringEndpoint)
    c.host_identity = strings.dup(hostIdentity)
    packMessage(&c, into: &out, size: dlp__hello__get_packed_size, pack: dlp__hello__pack)
  }

  public init(packed bytes: UnsafeRawBufferPointer, arena: ProtobufArena) throws {
    self = try unpackMessage(
      bytes, arena: arena, name: "Hello", unpack: dlp__hello__unpack,
      free: dlp__hello__free_unpacked
    ) { p in
      let c = p.pointee
      return HelloMessage(
        protocolVersion: c.protocol_version, workerID: swiftString(c.worker_id),
        hostname: swiftString(c.hostname),
        pid: c.pid, blasThreads: c.blas_threads, datasetHash: c.dataset_hash,
        datasetName: swiftString(c.dataset_name), ringEndpoint: swiftString(c.ring_endpoint),
        hostIdentity: swiftString(c.host_identity))
    }
  }
}
