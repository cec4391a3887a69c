/// HCR_EL2 bits Keel sets. Arm ARM D17.2.48.
public struct HypervisorConfigurationRegister: OptionSet, Sendable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  /// VM: stage-2 translation for EL1&0.
  public static var stage2: Self { .init(rawValue: 1 << 0) }
  /// SWIO: set/way invalidation upgraded to clean+invalidate.
  public static var setWayInvalidateOverride: Self { .init(rawValue: 1 << 1) }
  /// PTW: stage-1 walks that hit Device memory at stage 2 fault.
  public static var protectedTableWalk: Self { .init(rawValue: 1 << 2) }
  /// FMO/IMO/AMO: physical FIQ/IRQ/SError go to EL2; virtual ones reach the guest.
  public static var routeFIQ: Self { .init(rawValue: 1 << 3) }
  public static var routeIRQ: Self { .init(rawValue: 1 << 4) }
  public static var routeSError: Self { .init(rawValue: 1 << 5) }
  /// FB: broadcast TLB and I-cache maintenance across the inner shareable domain.
  public static var forceBroadcast: Self { .init(rawValue: 1 << 9) }
  /// BSU = inner shareable: barriers issued by the guest cover the other CPUs it may migrate between.
  public static var barrierInnerShareable: Self { .init(rawValue: 1 << 10) }
  public static var trapWFI: Self { .init(rawValue: 1 << 13) }
  public static var trapWFE: Self { .init(rawValue: 1 << 14) }
  /// TIDCP: IMPLEMENTATION DEFINED system registers trap instead of reaching the real CPU.
  public static var trapImplementationDefined: Self { .init(rawValue: 1 << 20) }
  /// TACR: auxiliary control registers trap.
  public static var trapAuxiliaryControl: Self { .init(rawValue: 1 << 21) }
  /// TSW: set/way cache maintenance traps (a guest must not clean the host's caches).
  public static var trapSetWay: Self { .init(rawValue: 1 << 22) }
  /// TSC: SMC traps, so a guest's firmware calls reach Keel's PSCI, never the real firmware.
  public static var trapSMC: Self { .init(rawValue: 1 << 19) }
  /// TDZ: DC ZVA traps, and DCZID_EL0 tells the guest it is prohibited, so the guest kernel and
  /// libc never use it; only code that insists (the virtualization detector) reaches Keel.
  public static var trapDCZVA: Self { .init(rawValue: 1 << 28) }
  /// RW: EL1 is AArch64.
  public static var el1AArch64: Self { .init(rawValue: 1 << 31) }
  /// TLOR: LORegion registers trap.
  public static var trapLORegions: Self { .init(rawValue: 1 << 35) }
  /// APK/API: pointer authentication keys and instructions are not trapped.
  public static var pointerAuthKeys: Self { .init(rawValue: 1 << 40) }
  public static var pointerAuthInstructions: Self { .init(rawValue: 1 << 41) }

  /// Everything a guest must not touch traps; everything it may use natively does not.
  public static var keelGuest: Self {
    [.stage2, .setWayInvalidateOverride, .protectedTableWalk, .routeFIQ, .routeIRQ, .routeSError,
     .forceBroadcast, .barrierInnerShareable, .trapWFI, .trapWFE, .trapImplementationDefined,
     .trapAuxiliaryControl, .trapSetWay, .trapSMC, .trapDCZVA, .el1AArch64, .trapLORegions,
     .pointerAuthKeys, .pointerAuthInstructions]
  }
}

/// MPIDR affinity fields, as used by PSCI targets and GIC routing.
public struct Affinity: RawRepresentable, Hashable, Sendable {
  public let rawValue: UInt64
  /// Keeps only Aff3..Aff0; MT, U and RES1 bits are not part of an affinity.
  public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFF_00FF_FFFF }
  public init(aff3: UInt8 = 0, aff2: UInt8 = 0, aff1: UInt8 = 0, aff0: UInt8) {
    self.init(rawValue: UInt64(aff3) << 32 | UInt64(aff2) << 16 | UInt64(aff1) << 8 | UInt64(aff0))
  }
  public var aff0: UInt8 { UInt8(truncatingIfNeeded: rawValue) }
  public var aff1: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 8) }
  public var aff2: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 16) }
  public var aff3: UInt8 { UInt8(truncatingIfNeeded: rawValue >> 32) }
  /// The 32-bit packed form GICR_TYPER[63:32] and GICD_IROUTER use (Aff3 in [31:24] resp. [39:32]).
  public var packed32: UInt32 { UInt32(aff3) << 24 | UInt32(aff2) << 16 | UInt32(aff1) << 8 | UInt32(aff0) }
  /// The MPIDR_EL1 a vCPU with this affinity reads (bit 31 is RES1).
  public var mpidr: UInt64 { rawValue | 1 << 31 }
}

/// PSTATE values for SPSR_EL2 when entering a guest.
public enum ProcessorState {
  /// EL1h with D, A, I and F masked: the architected state at reset and at PSCI CPU_ON entry.
  public static let el1hMasked: UInt64 = 0x3C5
  public static func exceptionLevel(_ spsr: UInt64) -> Int { Int(spsr >> 2 & 3) }
  public static func usesSPx(_ spsr: UInt64) -> Bool { spsr & 1 == 1 }
  public static func isAArch32(_ spsr: UInt64) -> Bool { spsr >> 4 & 1 == 1 }
}

/// VTCR_EL2 for a 4 KiB-granule stage 2 starting at level 1.
public struct Stage2Control: Sendable, Equatable {
  public let ipaBits: Int
  public let rawValue: UInt64

  /// - Parameter parange: ID_AA64MMFR0_EL1.PARange of the host.
  /// A level-1 start with one 4 KiB root covers 39 bits; that is enough for any guest RAM Keel
  /// places at 0x4000_0000 and keeps the root to a single page.
  public init(parange: UInt8) {
    let paBits = Stage2Control.physicalAddressBits(parange: parange)
    let bits = min(paBits, 39)
    ipaBits = bits
    let t0sz = UInt64(64 - bits)
    let sl0: UInt64 = 1          // start at level 1
    let irgn0: UInt64 = 1, orgn0: UInt64 = 1, sh0: UInt64 = 3  // WB-WA, inner shareable walks
    let ps = UInt64(min(parange, 5)) & 7
    rawValue = 1 << 31 | ps << 16 | sh0 << 12 | orgn0 << 10 | irgn0 << 8 | sl0 << 6 | t0sz
  }

  public static func physicalAddressBits(parange: UInt8) -> Int {
    switch parange & 0xF {
    case 0: return 32
    case 1: return 36
    case 2: return 40
    case 3: return 42
    case 4: return 44
    case 5: return 48
    default: return 52
    }
  }
}
