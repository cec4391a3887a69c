/// Register offsets of the Arm PrimeCell real-time clock (PL031, DDI 0224), as used by Linux's
/// `rtc-pl031` driver.
public enum PL031Register {
  /// RTCDR: the current count, seconds since the Unix epoch on QEMU `virt` and under Keel.
  public static let data: UInt16 = 0x000
  /// RTCMR: the match value (the alarm).
  public static let match: UInt16 = 0x004
  /// RTCLR: writing sets the count; reads give the last value written.
  public static let load: UInt16 = 0x008
  /// RTCCR: bit 0 starts the counter; once started it cannot be stopped.
  public static let control: UInt16 = 0x00C
  public static let imsc: UInt16 = 0x010
  public static let ris: UInt16 = 0x014
  public static let mis: UInt16 = 0x018
  /// RTCICR (write-only): clears the match interrupt.
  public static let icr: UInt16 = 0x01C
  /// PeriphID 0x00141031 (revision 1), what QEMU's PL031 reports, so a guest sees the same part.
  public static let primeCell = PrimeCellID(peripheral: 0x0014_1031)
}

/// The guest's wall-clock time, as its RTC counts it: seconds since the Unix epoch.
public protocol RealTimeSource: AnyObject {
  func secondsSinceEpoch() -> UInt64
}

/// An emulated PL031. It holds no time of its own, only the guest's offset from `now`, the
/// time source's seconds passed to every access: the count never drifts from its source and
/// is correct after any pause the source accounts for.
///
/// The match interrupt latches once the count reaches or passes the match value (as the
/// hardware's comparator would have seen it go by). It is evaluated when the guest touches the
/// RTC and when the owner calls `update(now:)`; a guest sleeping on an alarm with nothing else
/// to wake it is not woken at the match yet. The line is level, high while RIS and IMSC are set.
public struct PL031<Line: IRQLine> {
  public var irq: Line
  /// Guest count minus `now` (RTCLR moves it). 32-bit wrap-around as the hardware's counter.
  public private(set) var offset: UInt32 = 0
  public private(set) var loaded: UInt32 = 0
  public private(set) var matchValue: UInt32 = 0
  public private(set) var interruptMask = false
  public private(set) var matched = false
  var lineLevel = false
  /// The count at the last evaluation: a match between it and now has gone by.
  var lastSeen: UInt32? = nil

  public init(irq: Line) { self.irq = irq }

  public func count(now: UInt64) -> UInt32 { UInt32(truncatingIfNeeded: now) &+ offset }

  public mutating func read(at offset: UInt16, now: UInt64) -> UInt32 {
    update(now: now)
    switch offset {
    case PL031Register.data: return count(now: now)
    case PL031Register.match: return matchValue
    case PL031Register.load: return loaded
    case PL031Register.control: return 1
    case PL031Register.imsc: return interruptMask ? 1 : 0
    case PL031Register.ris: return matched ? 1 : 0
    case PL031Register.mis: return matched && interruptMask ? 1 : 0
    default: return PL031Register.primeCell.register(at: offset) ?? 0
    }
  }

  public mutating func write(_ value: UInt32, at offset: UInt16, now: UInt64) {
    switch offset {
    case PL031Register.load:
      update(now: now)
      loaded = value
      self.offset = value &- UInt32(truncatingIfNeeded: now)
      lastSeen = value
    case PL031Register.match:
      update(now: now)
      matchValue = value
    case PL031Register.imsc:
      interruptMask = value & 1 == 1
    case PL031Register.icr:
      if value & 1 == 1 { matched = false }
    default:
      break   // RTCCR (always started), read-only and reserved registers
    }
    update(now: now)
  }

  /// Latches the match interrupt once the count has reached the match value, and drives the line.
  public mutating func update(now: UInt64) {
    let current = count(now: now)
    let since = lastSeen ?? current
    if matchValue &- since <= current &- since { matched = true }
    lastSeen = current
    let level = matched && interruptMask
    if level != lineLevel {
      lineLevel = level
      irq.set(level)
    }
  }
}
