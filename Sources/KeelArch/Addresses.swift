/// Intermediate physical address: what a guest believes is physical.
/// The only way from an IPA to a PA is a stage-2 translation.
public struct IPA: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public init(_ value: UInt64) { self.rawValue = value }
  public static func < (a: IPA, b: IPA) -> Bool { a.rawValue < b.rawValue }
  public static func + (a: IPA, n: UInt64) -> IPA { IPA(a.rawValue &+ n) }
  public func offset(from base: IPA) -> UInt64? { rawValue >= base.rawValue ? rawValue - base.rawValue : nil }

  /// The faulting IPA of a stage-2 abort: HPFAR_EL2.FIPA gives the page, FAR_EL2 the offset.
  public init(hpfar: UInt64, far: UInt64) {
    self.rawValue = (hpfar >> 4 & 0xFF_FFFF_FFFF) << 12 | far & 0xFFF
  }
}

/// Host physical address.
public struct PA: RawRepresentable, Hashable, Comparable, Sendable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  public init(_ value: UInt64) { self.rawValue = value }
  public static func < (a: PA, b: PA) -> Bool { a.rawValue < b.rawValue }
  public static func + (a: PA, n: UInt64) -> PA { PA(a.rawValue &+ n) }
}

/// A half-open range of guest-physical addresses.
public struct IPARange: Hashable, Sendable {
  public let base: IPA
  public let size: UInt64
  public init(base: IPA, size: UInt64) { self.base = base; self.size = size }
  public var end: IPA { base + size }
  public func contains(_ a: IPA) -> Bool { a >= base && a.rawValue - base.rawValue < size }
  public func contains(_ a: IPA, length: UInt64) -> Bool {
    guard contains(a), length <= size else { return false }
    return a.rawValue - base.rawValue <= size - length
  }
}

@inlinable public func alignUp(_ v: UInt64, _ a: UInt64) -> UInt64 { (v &+ a &- 1) & ~(a &- 1) }
@inlinable public func alignDown(_ v: UInt64, _ a: UInt64) -> UInt64 { v & ~(a &- 1) }
