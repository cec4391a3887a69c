/// CNTP_CTL_EL0 / CNTV_CTL_EL0 bits (Arm ARM D24.x: ENABLE bit 0, IMASK bit 1, ISTATUS bit 2).
public struct TimerControl: OptionSet, Sendable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }
  /// ENABLE.
  public static var enabled: TimerControl { .init(rawValue: 1 << 0) }
  /// IMASK.
  public static var interruptMasked: TimerControl { .init(rawValue: 1 << 1) }
  /// ISTATUS (read-only: derived from the counter and the compare value).
  public static var interruptStatus: TimerControl { .init(rawValue: 1 << 2) }

  /// Whether a timer with this CTL value drives its interrupt line: enabled, not masked, and
  /// its condition met.
  public static func asserted(_ raw: UInt64) -> Bool { raw & 0b111 == 0b101 }

  /// Whether it can fire at all: enabled and not masked (its deadline then matters).
  public static func armed(_ raw: UInt64) -> Bool { raw & 0b11 == 0b01 }
}

/// One guest generic timer (CNTP or CNTV) emulated on top of a `GuestClock` count.
///
/// Arm ARM semantics: the condition is met when `count >= CVAL` (unsigned 64-bit); TVAL reads
/// `(CVAL - count)[31:0]` with bits [63:32] RES0, and a TVAL write sets
/// `CVAL = count + SignExtend(TVAL[31:0])`.
public struct GuestTimer: Sendable, Equatable {
  public var compareValue: UInt64
  /// ENABLE and IMASK as written by the guest; ISTATUS is never stored.
  public private(set) var control: TimerControl

  public init(compareValue: UInt64 = 0, control: TimerControl = []) {
    self.compareValue = compareValue
    self.control = control.subtracting(.interruptStatus)
  }

  public mutating func writeCompareValue(_ value: UInt64) { compareValue = value }
  public func readCompareValue() -> UInt64 { compareValue }

  public mutating func writeTimerValue(_ value: UInt64, guestNow: UInt64) {
    let signed = Int64(Int32(truncatingIfNeeded: value))
    compareValue = guestNow &+ UInt64(bitPattern: signed)
  }

  public func readTimerValue(guestNow: UInt64) -> UInt64 {
    UInt64(UInt32(truncatingIfNeeded: compareValue &- guestNow))
  }

  public mutating func writeControl(_ value: UInt64) {
    control = TimerControl(rawValue: value).intersection([.enabled, .interruptMasked])
  }

  /// ISTATUS is reported only while enabled (Arm: it is UNKNOWN when ENABLE is 0; Keel reads 0).
  public func readControl(guestNow: UInt64) -> UInt64 {
    var value = control
    if isConditionMet(guestNow: guestNow) { value.insert(.interruptStatus) }
    return value.rawValue
  }

  public func isConditionMet(guestNow: UInt64) -> Bool {
    control.contains(.enabled) && guestNow >= compareValue
  }

  /// The level of the timer's PPI.
  public func isInterruptAsserted(guestNow: UInt64) -> Bool {
    isConditionMet(guestNow: guestNow) && !control.contains(.interruptMasked)
  }

  /// The host count at which the PPI will assert, or nil if it never will on its own
  /// (disabled, masked, or the clock is paused before reaching CVAL).
  public func hostDeadline(on clock: GuestClock) -> UInt64? {
    guard control.contains(.enabled), !control.contains(.interruptMasked) else { return nil }
    let host = clock.hostCount(forGuest: compareValue)
    return host == .max && clock.guestCount(atHost: .max) < compareValue ? nil : host
  }
}
