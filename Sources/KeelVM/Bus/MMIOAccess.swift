import KeelArch

/// A decoded, emulatable guest MMIO access (a data abort with a valid syndrome).
public struct MMIOAccess: Equatable, Sendable {
  public let address: IPA
  public let size: AccessSize
  public let isWrite: Bool
  /// Transfer register; 31 is XZR.
  public let register: Int
  public let signExtend: Bool
  public let to64Bit: Bool

  /// Decodes a data abort once: nil when the syndrome does not describe the access (ISV clear,
  /// as for LDP or a post-indexed load) or the abort happened on the guest's own table walk.
  public init?(_ iss: DataAbortISS, address: IPA) {
    guard iss.isValid, !iss.onStage1Walk else { return nil }
    self.address = address
    size = iss.size
    isWrite = iss.isWrite
    register = iss.register
    signExtend = iss.signExtend
    to64Bit = iss.is64BitRegister
  }

  /// The value a store writes, from the guest register's contents.
  public func storeValue(fromRegister value: UInt64) -> UInt64 { register == 31 ? 0 : value & size.mask }

  /// The register contents after a load of `value`, with SSE/SF sign extension.
  public func registerValue(afterLoading value: UInt64) -> UInt64 {
    var v = value & size.mask
    if signExtend && size != .doubleword {
      let bits = UInt64(size.bytes * 8)
      if v >> (bits - 1) & 1 == 1 { v |= ~size.mask }
      if !to64Bit { v &= 0xFFFF_FFFF }
    }
    return v
  }
}

/// Exits by cause, printed when a VM stops.
public struct ExitCounters: Sendable, Equatable {
  /// Data aborts, split by what they hit: the emulated GIC, the virtual UART, the GPIO, the
  /// RTC, or nothing.
  public var gicAccess = 0, uartAccess = 0, gpioAccess = 0, rtcAccess = 0, faults = 0
  public var hvc = 0, smc = 0, systemRegister = 0, wfi = 0, wfe = 0, irq = 0, other = 0
  /// Of the exits above, those that were VMware backdoor calls.
  public var backdoor = 0
  public init() {}
  /// One data abort, counted by what it hit (nil: nothing the VM has).
  public mutating func countDataAbort(_ category: DeviceCategory?) {
    switch category {
    case .gic: gicAccess += 1
    case .uart: uartAccess += 1
    case .gpio: gpioAccess += 1
    case .rtc: rtcAccess += 1
    case nil: faults += 1
    }
  }
  public var dataAbort: Int { gicAccess + uartAccess + gpioAccess + rtcAccess + faults }
  public var total: Int { dataAbort + hvc + smc + systemRegister + wfi + wfe + irq + other }
  public mutating func add(_ o: ExitCounters) {
    gicAccess += o.gicAccess; uartAccess += o.uartAccess; gpioAccess += o.gpioAccess; rtcAccess += o.rtcAccess
    faults += o.faults
    hvc += o.hvc; smc += o.smc; systemRegister += o.systemRegister
    wfi += o.wfi; wfe += o.wfe; irq += o.irq; other += o.other; backdoor += o.backdoor
  }
  public var summary: String {
    "total=\(total) dabt=\(dataAbort) (gic=\(gicAccess) uart=\(uartAccess) gpio=\(gpioAccess) rtc=\(rtcAccess) fault=\(faults)) hvc=\(hvc) smc=\(smc) sysreg=\(systemRegister) wfi=\(wfi) wfe=\(wfe) irq=\(irq) other=\(other) backdoor=\(backdoor)"
  }
}
