/// Small integer ids index plain arrays: Dictionary/Set are avoided because hash seeding at EL2
/// is a counter, not randomness, and their sizing code pulls in floating point.

/// A host (physical) CPU, 0..<hostCPUCount.
public struct HostCPUID: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue }
  public init(_ index: Int) { self.rawValue = UInt8(index) }
  public var index: Int { Int(rawValue) }
  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A resource group: the index of its spec in `SchedulerConfiguration.groups`.
public struct GroupID: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public init(_ index: Int) { self.rawValue = UInt16(index) }
  public var index: Int { Int(rawValue) }
  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A VM: the index of its spec in `SchedulerConfiguration.vms`.
public struct VMID: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public init(_ index: Int) { self.rawValue = UInt16(index) }
  public var index: Int { Int(rawValue) }
  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A vCPU, numbered densely across all VMs (VM order, then vCPU order);
/// use `Scheduler.vcpu(_:of:)` to obtain one.
public struct VCPUID: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt16
  public init(rawValue: UInt16) { self.rawValue = rawValue }
  public init(_ index: Int) { self.rawValue = UInt16(index) }
  public var index: Int { Int(rawValue) }
  public static func < (a: Self, b: Self) -> Bool { a.rawValue < b.rawValue }
}

/// A set of host CPUs (at most 64), e.g. the CPUs to kick with an IPI. A bit mask rather than an
/// array so hot-path calls never allocate (the EL2 heap is a bump allocator that never frees).
public struct CPUMask: RawRepresentable, Equatable, Sequence, Sendable {
  public var rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public init() { self.rawValue = 0 }
  public init(_ cpu: HostCPUID) { self.rawValue = 1 << UInt64(cpu.rawValue) }

  public func contains(_ cpu: HostCPUID) -> Bool { rawValue >> UInt64(cpu.rawValue) & 1 == 1 }
  public mutating func insert(_ cpu: HostCPUID) { rawValue |= 1 << UInt64(cpu.rawValue) }
  public mutating func remove(_ cpu: HostCPUID) { rawValue &= ~(1 << UInt64(cpu.rawValue)) }
  public var isEmpty: Bool { rawValue == 0 }
  public var count: Int { rawValue.nonzeroBitCount }

  public struct Iterator: IteratorProtocol {
    var remaining: UInt64
    public mutating func next() -> HostCPUID? {
      guard remaining != 0 else { return nil }
      let bit = remaining.trailingZeroBitCount
      remaining &= remaining - 1
      return HostCPUID(bit)
    }
  }
  public func makeIterator() -> Iterator { Iterator(remaining: rawValue) }
}
