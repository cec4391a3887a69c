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

/// The fixed guest-physical layout of a Keel VM (mirrors QEMU virt, which Linux knows well).
public struct GuestLayout: Sendable, Equatable {
  public var ram: IPARange
  public var distributor = IPARange(base: IPA(0x0800_0000), size: 0x1_0000)
  /// GICv2 only: the guest's GICC, backed by the host's GICV frame (no traps).
  public var cpuInterface = IPARange(base: IPA(0x0801_0000), size: 0x2000)
  /// GICv3 only: one 128 KiB frame pair per vCPU.
  public var redistributorBase = IPA(0x080A_0000)
  public var uart = IPARange(base: IPA(0x0900_0000), size: 0x1000)
  public var uartINTID: UInt32 = 33
  /// The PL061 GPIO controller carrying the guest's power button (GuestPlatform.powerButton).
  public var gpio = IPARange(base: IPA(0x0903_0000), size: 0x1000)
  public var gpioINTID: UInt32 = 39

  public init(ram: IPARange) { self.ram = ram }
}

public enum MMIOTarget: Equatable, Sendable {
  case distributor(offset: UInt64)
  case redistributor(offset: UInt64)
  case uart(offset: UInt16)
  case gpio(offset: UInt16)
  case none
}

extension GuestLayout {
  public func route(_ ipa: IPA, gic: GICVersionTag, vcpus: Int) -> MMIOTarget {
    if let o = ipa.offset(from: distributor.base), o < distributor.size { return .distributor(offset: o) }
    if gic == .v3, let o = ipa.offset(from: redistributorBase), o < 0x20000 * UInt64(vcpus) { return .redistributor(offset: o) }
    if let o = ipa.offset(from: uart.base), o < uart.size { return .uart(offset: UInt16(o)) }
    if let o = ipa.offset(from: gpio.base), o < gpio.size { return .gpio(offset: UInt16(o)) }
    return .none
  }
}

/// GIC version as the layout needs it (kept here so KeelVM's layout does not depend on KeelVGIC's state).
public enum GICVersionTag: Sendable, Equatable { case v2, v3 }

/// Exits by cause, printed when a VM stops.
public struct ExitCounters: Sendable, Equatable {
  /// Data aborts, split by what they hit: the emulated GIC, the virtual UART, or nothing.
  public var gicAccess = 0, uartAccess = 0, gpioAccess = 0, faults = 0
  public var hvc = 0, smc = 0, systemRegister = 0, wfi = 0, wfe = 0, irq = 0, other = 0
  /// Of the exits above, those that were VMware backdoor calls.
  public var backdoor = 0
  public init() {}
  public var dataAbort: Int { gicAccess + uartAccess + gpioAccess + faults }
  public var total: Int { dataAbort + hvc + smc + systemRegister + wfi + wfe + irq + other }
  public mutating func add(_ o: ExitCounters) {
    gicAccess += o.gicAccess; uartAccess += o.uartAccess; gpioAccess += o.gpioAccess; faults += o.faults
    hvc += o.hvc; smc += o.smc; systemRegister += o.systemRegister
    wfi += o.wfi; wfe += o.wfe; irq += o.irq; other += o.other; backdoor += o.backdoor
  }
  public var summary: String {
    "total=\(total) dabt=\(dataAbort) (gic=\(gicAccess) uart=\(uartAccess) gpio=\(gpioAccess) fault=\(faults)) hvc=\(hvc) smc=\(smc) sysreg=\(systemRegister) wfi=\(wfi) wfe=\(wfe) irq=\(irq) other=\(other) backdoor=\(backdoor)"
  }
}
