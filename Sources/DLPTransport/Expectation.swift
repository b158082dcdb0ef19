/// What a receiver is prepared to accept; anything else is refused with a specific error.
///
/// nil fields accept anything. `MessageCodec.expect(...)` fills in the codec's job id, so a
/// receiver only states the kinds and step it is waiting for.
public struct Expectation: Sendable, Equatable {
  /// Accepted kinds.
  public var kinds: [MessageKind]?
  /// The job the message must belong to.
  public var jobID: UInt64?
  /// The step the message must be for.
  public var step: UInt64?
  /// The rank the message must come from.
  public var senderRank: Int32?

  public init(
    kinds: [MessageKind]? = nil, jobID: UInt64? = nil, step: UInt64? = nil, senderRank: Int32? = nil
  ) {
    self.kinds = kinds
    self.jobID = jobID
    self.step = step
    self.senderRank = senderRank
  }

  /// Accepts any well-formed message of our protocol version.
  public static let any = Expectation()

  /// Checks `header` against this expectation (job first, then kind, step and sender).
  public func check(_ header: MessageHeader, peer: Int?) throws {
    if let jobID, header.jobID != jobID {
      throw TransportError.wrongJob(peer: peer, expected: jobID, got: header.jobID)
    }
    if let kinds, !kinds.contains(header.kind) {
      throw TransportError.unexpectedKind(peer: peer, expected: kinds, got: header.kind)
    }
    if let step, header.step != step {
      throw TransportError.unexpectedStep(peer: peer, expected: step, got: header.step)
    }
    if let senderRank, header.senderRank != senderRank {
      throw TransportError.malformed(
        peer: peer,
        "message claims to come from rank \(header.senderRank), expected rank \(senderRank)")
    }
  }
}
