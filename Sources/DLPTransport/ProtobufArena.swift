import DLPProto
import Foundation

/// A bump allocator that protobuf-c unpacks messages into, so decoding a message on the
/// per-step path costs no `malloc`/`free` pairs.
///
/// protobuf-c allocates the message struct, its strings and repeated fields through a
/// `ProtobufCAllocator`; this one carves them out of one reusable block and falls back to
/// `malloc` for anything that does not fit (a big JobSpec). `reset()` after the message has
/// been converted and freed makes the whole block available again. Owned by one thread.
public final class ProtobufArena {
  private let block: UnsafeMutableRawPointer
  private let capacity: Int
  private var used = 0
  /// The C allocator handed to protobuf-c; lives at a stable address for the arena's life.
  let allocator: UnsafeMutablePointer<ProtobufCAllocator>

  /// Creates an arena of `capacity` bytes.
  public init(capacity: Int = 64 << 10) {
    self.capacity = capacity
    block = .allocate(byteCount: capacity, alignment: 16)
    allocator = .allocate(capacity: 1)
    allocator.initialize(
      to: ProtobufCAllocator(alloc: arenaAlloc, free: arenaFree, allocator_data: nil))
    allocator.pointee.allocator_data = Unmanaged.passUnretained(self).toOpaque()
  }

  deinit {
    allocator.deallocate()
    block.deallocate()
  }

  /// Bytes handed out from the block since the last reset.
  public var bytesInUse: Int { used }

  /// Makes the whole block reusable; every message unpacked into it must have been freed.
  public func reset() { used = 0 }

  fileprivate func allocate(_ size: Int) -> UnsafeMutableRawPointer? {
    let start = (used + 15) & ~15
    if size <= capacity - start {
      used = start + size
      return block + start
    }
    return malloc(max(size, 1))
  }

  fileprivate func free(_ pointer: UnsafeMutableRawPointer) {
    // Block memory is reclaimed by reset(); only overflow allocations go back to malloc.
    if pointer >= block && pointer < block + capacity { return }
    Foundation.free(pointer)
  }
}

private let arenaAlloc: @convention(c) (UnsafeMutableRawPointer?, Int) -> UnsafeMutableRawPointer? =
  {
    data, size in
    guard let data else { return malloc(max(size, 1)) }
    return Unmanaged<ProtobufArena>.fromOpaque(data).takeUnretainedValue().allocate(size)
  }

private let arenaFree: @convention(c) (UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Void =
  {
    data, pointer in
    guard let pointer else { return }
    guard let data else { return free(pointer) }
    Unmanaged<ProtobufArena>.fromOpaque(data).takeUnretainedValue().free(pointer)
  }
