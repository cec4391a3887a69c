import KeelArch
import KeelDevices

/// What a device on the bus is, for the exit census (`ExitCounters`).
public enum DeviceCategory: Sendable, Equatable { case gic, uart, gpio, rtc }

public enum BusError: Error, Equatable, Sendable, CustomStringConvertible {
  /// Two devices claim overlapping guest-physical ranges (a board description bug).
  case overlap(base: UInt64, size: UInt64, with: UInt64)
  case emptyRange(base: UInt64)

  public var description: String {
    switch self {
    case .overlap(let base, let size, let other):
      return "device range 0x\(String(base, radix: 16))+0x\(String(size, radix: 16)) overlaps the device at 0x\(String(other, radix: 16))"
    case .emptyRange(let base): return "device at 0x\(String(base, radix: 16)) has an empty range"
    }
  }
}

/// How one access went: the value a load returns (0 for stores), or no device owns the range.
public enum BusResult: Equatable, Sendable {
  case completed(value: UInt64, category: DeviceCategory)
  /// No device covers every byte of the access: the guest gets a data abort.
  case unmapped
}

/// Which device owns which guest-physical range of one VM. Built once from the board (ranges
/// never change while the VM exists); a lookup is a short scan, most-used device first.
public struct MMIOBus {
  struct Slot {
    let base: UInt64
    let size: UInt64
    /// Unretained: the trap path must not pay for reference counting on every access. The bus
    /// keeps every device alive in `owners`.
    unowned(unsafe) let device: any MMIODevice
    let category: DeviceCategory
  }

  private(set) var slots: [Slot] = []
  private var owners: [any MMIODevice] = []

  public init() {}

  public var count: Int { slots.count }

  /// Adds `device` at `base..<base+size`. Refuses a range that overlaps one already attached.
  public mutating func attach(_ device: any MMIODevice, base: UInt64, size: UInt64, category: DeviceCategory) throws(BusError) {
    guard size > 0, base &+ size > base else { throw .emptyRange(base: base) }
    for s in slots where base < s.base &+ s.size && s.base < base &+ size {
      throw .overlap(base: base, size: size, with: s.base)
    }
    slots.append(Slot(base: base, size: size, device: device, category: category))
    owners.append(device)
  }

  /// The device owning every byte of `size` bytes at `address`, with the offset into its range.
  @inline(__always)
  func slot(for address: UInt64, size: Int) -> (Slot, UInt64)? {
    for s in slots {
      let offset = address &- s.base
      // One unsigned compare rejects addresses below the base too (they wrap to huge offsets).
      if offset < s.size {
        return offset &+ UInt64(size) <= s.size ? (s, offset) : nil
      }
    }
    return nil
  }

  /// Whether any device owns `address` (for the exit census of accesses that cannot be decoded).
  public func category(at address: UInt64) -> DeviceCategory? { slot(for: address, size: 1)?.0.category }

  /// Carries out a decoded access. `storeValue` is what a store writes (ignored for loads).
  @inline(__always)
  public func dispatch(_ access: MMIOAccess, storeValue: UInt64, vcpu: Int) -> BusResult {
    guard let (s, offset) = slot(for: access.address.rawValue, size: access.size.bytes) else { return .unmapped }
    if access.isWrite {
      s.device.write(storeValue, at: offset, size: access.size, vcpu: vcpu)
      return .completed(value: 0, category: s.category)
    }
    return .completed(value: s.device.read(at: offset, size: access.size, vcpu: vcpu), category: s.category)
  }
}
