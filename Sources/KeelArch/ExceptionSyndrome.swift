/// ESR_EL2 as delivered to the hypervisor on a trap from a guest.
/// Arm ARM D17.2.37: EC in [31:26], IL in [25], ISS in [24:0].
public struct ExceptionSyndrome: RawRepresentable, Hashable, Sendable {
  public let rawValue: UInt64
  public init(rawValue: UInt64) { self.rawValue = rawValue }

  public var exceptionClass: ExceptionClass { ExceptionClass(rawValue: UInt8(truncatingIfNeeded: rawValue >> 26)) }
  /// True for a 32-bit instruction; the PC advances by 4, otherwise by 2.
  public var is32BitInstruction: Bool { rawValue >> 25 & 1 == 1 }
  public var iss: UInt32 { UInt32(truncatingIfNeeded: rawValue & 0x1FF_FFFF) }
  public var instructionLength: UInt64 { is32BitInstruction ? 4 : 2 }
}

/// ESR.EC values Keel handles. A struct with static members rather than an enum, so that an
/// exception class Keel does not know still has a representation (style.md D2).
public struct ExceptionClass: RawRepresentable, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3F }

  public static var unknown: Self { .init(rawValue: 0x00) }
  /// WFI or WFE trapped by HCR_EL2.TWI/TWE.
  public static var waitForInterrupt: Self { .init(rawValue: 0x01) }
  public static var fpAccess: Self { .init(rawValue: 0x07) }
  public static var illegalExecutionState: Self { .init(rawValue: 0x0E) }
  public static var svc64: Self { .init(rawValue: 0x15) }
  public static var hvc64: Self { .init(rawValue: 0x16) }
  public static var smc64: Self { .init(rawValue: 0x17) }
  /// MSR, MRS or system instruction trapped from AArch64.
  public static var systemRegister: Self { .init(rawValue: 0x18) }
  public static var instructionAbortLowerEL: Self { .init(rawValue: 0x20) }
  public static var instructionAbortSameEL: Self { .init(rawValue: 0x21) }
  public static var pcAlignment: Self { .init(rawValue: 0x22) }
  public static var dataAbortLowerEL: Self { .init(rawValue: 0x24) }
  public static var dataAbortSameEL: Self { .init(rawValue: 0x25) }
  public static var spAlignment: Self { .init(rawValue: 0x26) }
  public static var serror: Self { .init(rawValue: 0x2F) }
  public static var breakpointLowerEL: Self { .init(rawValue: 0x30) }
  public static var softwareStepLowerEL: Self { .init(rawValue: 0x32) }
  public static var watchpointLowerEL: Self { .init(rawValue: 0x34) }
  public static var brk64: Self { .init(rawValue: 0x3C) }
}

/// Size of a data access (ESR ISS.SAS).
public enum AccessSize: UInt8, Sendable {
  case byte = 0, halfword = 1, word = 2, doubleword = 3
  public var bytes: Int { 1 << Int(rawValue) }
  public var mask: UInt64 { self == .doubleword ? ~0 : (1 << UInt64(8 * bytes)) - 1 }
}

/// The data-abort ISS (Arm ARM D17.2.37, "ISS encoding for an exception from a Data Abort").
public struct DataAbortISS: Hashable, Sendable {
  public let raw: UInt32
  public init(_ raw: UInt32) { self.raw = raw }

  /// ISV: the fields below describe the access; without it the instruction cannot be emulated.
  public var isValid: Bool { raw >> 24 & 1 == 1 }
  public var size: AccessSize { AccessSize(rawValue: UInt8(raw >> 22 & 3))! }
  public var signExtend: Bool { raw >> 21 & 1 == 1 }
  /// Transfer register; 31 means XZR (reads as zero, writes ignored), never SP.
  public var register: Int { Int(raw >> 16 & 0x1F) }
  /// SF: the destination is a 64-bit X register.
  public var is64BitRegister: Bool { raw >> 15 & 1 == 1 }
  public var acquireRelease: Bool { raw >> 14 & 1 == 1 }
  public var farNotValid: Bool { raw >> 10 & 1 == 1 }
  /// S1PTW: the fault happened on a stage-1 table walk, not on the access itself.
  public var onStage1Walk: Bool { raw >> 7 & 1 == 1 }
  public var isWrite: Bool { raw >> 6 & 1 == 1 }
  public var faultStatus: FaultStatus { FaultStatus(rawValue: UInt8(raw & 0x3F)) }
}

/// DFSC/IFSC fault status codes.
public struct FaultStatus: RawRepresentable, Hashable, Sendable {
  public let rawValue: UInt8
  public init(rawValue: UInt8) { self.rawValue = rawValue & 0x3F }
  public var isTranslationFault: Bool { rawValue & 0x3C == 0x04 }
  public var isAccessFlagFault: Bool { rawValue & 0x3C == 0x08 }
  public var isPermissionFault: Bool { rawValue & 0x3C == 0x0C }
  public var level: Int { Int(rawValue & 3) }
  public static var synchronousExternalAbort: Self { .init(rawValue: 0x10) }
  public static var alignmentFault: Self { .init(rawValue: 0x21) }
  public static func translationFault(level: Int) -> Self { .init(rawValue: 0x04 | UInt8(level & 3)) }
}

/// The ISS of a trapped MSR/MRS (EC 0x18).
public struct SystemRegisterISS: Hashable, Sendable {
  public let raw: UInt32
  public init(_ raw: UInt32) { self.raw = raw }
  public var isRead: Bool { raw & 1 == 1 }
  public var register: Int { Int(raw >> 5 & 0x1F) }
  public var encoding: SystemRegisterEncoding {
    SystemRegisterEncoding(op0: UInt8(raw >> 20 & 3), op1: UInt8(raw >> 14 & 7), crn: UInt8(raw >> 10 & 0xF),
                           crm: UInt8(raw >> 1 & 0xF), op2: UInt8(raw >> 17 & 7))
  }
}

/// An `S<op0>_<op1>_C<n>_C<m>_<op2>` system-register name.
public struct SystemRegisterEncoding: Hashable, Sendable, CustomStringConvertible {
  public var op0, op1, crn, crm, op2: UInt8
  public init(op0: UInt8, op1: UInt8, crn: UInt8, crm: UInt8, op2: UInt8) {
    self.op0 = op0; self.op1 = op1; self.crn = crn; self.crm = crm; self.op2 = op2
  }
  public var description: String { "S\(op0)_\(op1)_C\(crn)_C\(crm)_\(op2)" }

  public static let iccSGI1R = SystemRegisterEncoding(op0: 3, op1: 0, crn: 12, crm: 11, op2: 5)
  public static let iccASGI1R = SystemRegisterEncoding(op0: 3, op1: 0, crn: 12, crm: 11, op2: 6)
  public static let iccSGI0R = SystemRegisterEncoding(op0: 3, op1: 0, crn: 12, crm: 11, op2: 7)
  public static let cntpctEL0 = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 0, op2: 1)
  public static let mdccsrEL0 = SystemRegisterEncoding(op0: 2, op1: 3, crn: 0, crm: 1, op2: 0)
}
