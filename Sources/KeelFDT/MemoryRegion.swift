/// A `[base, base + size)` range of physical or intermediate-physical addresses, as found in `reg`.
/// Values coming from a blob are checked so that `end` cannot overflow.
public struct MemoryRegion: Hashable, Sendable {
  public var base: UInt64
  public var size: UInt64

  public init(base: UInt64, size: UInt64) {
    self.base = base
    self.size = size
  }

  /// First address past the region. Regions built by the parser never wrap.
  public var end: UInt64 { base &+ size }

  public func contains(_ address: UInt64) -> Bool {
    address >= base && address - base < size
  }
}
