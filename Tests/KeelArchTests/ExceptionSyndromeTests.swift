import Testing
import KeelArch

/// Builds an ESR_EL2 value from its Arm ARM fields (EC [31:26], IL [25], ISS [24:0]),
/// so the tests state the encoding independently of the decoder under test.
func esr(ec: UInt64, il: Bool = true, iss: UInt64) -> UInt64 { ec << 26 | (il ? 1 << 25 : 0) | iss & 0x1FF_FFFF }

/// Data-abort ISS from its fields (Arm ARM, "ISS encoding for an exception from a Data Abort").
func dataAbortISS(isv: Bool = true, sas: UInt64 = 2, sse: Bool = false, srt: UInt64 = 0, sf: Bool = false,
                  ar: Bool = false, fnv: Bool = false, s1ptw: Bool = false, wnr: Bool = false, dfsc: UInt64 = 0x06) -> UInt32 {
  var v: UInt64 = sas << 22 | srt << 16 | dfsc
  if isv { v |= 1 << 24 }
  if sse { v |= 1 << 21 }
  if sf { v |= 1 << 15 }
  if ar { v |= 1 << 14 }
  if fnv { v |= 1 << 10 }
  if s1ptw { v |= 1 << 7 }
  if wnr { v |= 1 << 6 }
  return UInt32(v)
}

/// MSR/MRS ISS from its fields (Arm ARM, "ISS encoding for an exception from MSR, MRS, or System instruction").
func sysregISS(op0: UInt32, op1: UInt32, crn: UInt32, crm: UInt32, op2: UInt32, rt: UInt32, read: Bool) -> UInt32 {
  op0 << 20 | op2 << 17 | op1 << 14 | crn << 10 | rt << 5 | crm << 1 | (read ? 1 : 0)
}

@Suite struct ExceptionSyndromeTests {
  @Test func linuxIRouterWriteFromX0() {
    // Measured under Xen: Linux's 64-bit GICD_IROUTER<n> store from x0 (linux-guest-and-measurement.md §1.2).
    let syndrome = ExceptionSyndrome(rawValue: 0x93c0_8046)
    #expect(syndrome.exceptionClass == .dataAbortLowerEL)
    #expect(syndrome.is32BitInstruction)
    #expect(syndrome.instructionLength == 4)
    let iss = DataAbortISS(syndrome.iss)
    #expect(iss.isValid)
    #expect(iss.size == .doubleword)
    #expect(iss.register == 0)
    #expect(iss.is64BitRegister)
    #expect(iss.isWrite)
    #expect(!iss.signExtend)
    #expect(!iss.acquireRelease)
    #expect(!iss.onStage1Walk)
    #expect(!iss.farNotValid)
    #expect(iss.faultStatus.isTranslationFault)
    #expect(iss.faultStatus.level == 2)
    #expect(iss.faultStatus == .translationFault(level: 2))
  }

  @Test func fieldsMatchHandEncodedSyndrome() {
    let raw = esr(ec: 0x24, iss: UInt64(dataAbortISS(sas: 1, sse: true, srt: 17, sf: false, ar: true, wnr: false, dfsc: 0x07)))
    let s = ExceptionSyndrome(rawValue: raw)
    #expect(s.exceptionClass.rawValue == 0x24)
    let iss = DataAbortISS(s.iss)
    #expect(iss.size == .halfword)
    #expect(iss.signExtend)
    #expect(iss.register == 17)
    #expect(!iss.is64BitRegister)
    #expect(iss.acquireRelease)
    #expect(!iss.isWrite)
    #expect(iss.faultStatus.level == 3)
  }

  @Test(arguments: [(UInt64(0), AccessSize.byte, 1), (1, .halfword, 2), (2, .word, 4), (3, .doubleword, 8)])
  func accessSizes(sas: UInt64, size: AccessSize, bytes: Int) {
    let iss = DataAbortISS(dataAbortISS(sas: sas))
    #expect(iss.size == size)
    #expect(iss.size.bytes == bytes)
    let expectedMask: UInt64 = bytes == 8 ? .max : (UInt64(1) << UInt64(bytes * 8)) - 1
    #expect(size.mask == expectedMask)
  }

  @Test func xzrTransferRegister() {
    #expect(DataAbortISS(dataAbortISS(srt: 31, wnr: true)).register == 31)
  }

  @Test func withoutISVTheAccessIsNotDescribed() {
    let iss = DataAbortISS(dataAbortISS(isv: false, s1ptw: true, dfsc: 0x05))
    #expect(!iss.isValid)
    #expect(iss.onStage1Walk)
    #expect(iss.faultStatus == .translationFault(level: 1))
  }

  @Test func shortInstructionLength() {
    let s = ExceptionSyndrome(rawValue: esr(ec: 0x01, il: false, iss: 0))
    #expect(!s.is32BitInstruction)
    #expect(s.instructionLength == 2)
    #expect(s.exceptionClass == .waitForInterrupt)
  }

  @Test func upperESRBitsDoNotLeakIntoFields() {
    // ESR_EL2[36:32] is ISS2 on FEAT_LS64 hardware; EC and ISS must ignore it.
    let raw = esr(ec: 0x16, iss: 0) | 0x1F << 32
    let s = ExceptionSyndrome(rawValue: raw)
    #expect(s.exceptionClass == .hvc64)
    #expect(s.iss == 0)
  }

  @Test func exceptionClassCodesFromArmARM() {
    let table: [(ExceptionClass, UInt8)] = [
      (.unknown, 0b000000), (.waitForInterrupt, 0b000001), (.fpAccess, 0b000111),
      (.illegalExecutionState, 0b001110), (.svc64, 0b010101), (.hvc64, 0b010110), (.smc64, 0b010111),
      (.systemRegister, 0b011000), (.instructionAbortLowerEL, 0b100000), (.instructionAbortSameEL, 0b100001),
      (.pcAlignment, 0b100010), (.dataAbortLowerEL, 0b100100), (.dataAbortSameEL, 0b100101),
      (.spAlignment, 0b100110), (.serror, 0b101111), (.breakpointLowerEL, 0b110000),
      (.softwareStepLowerEL, 0b110010), (.watchpointLowerEL, 0b110100), (.brk64, 0b111100),
    ]
    for (ec, code) in table {
      #expect(ec.rawValue == code)
      #expect(ExceptionSyndrome(rawValue: esr(ec: UInt64(code), iss: 0)).exceptionClass == ec)
    }
  }

  @Test func exceptionClassIsSixBits() {
    #expect(ExceptionClass(rawValue: 0xFF).rawValue == 0x3F)
    #expect(ExceptionClass(rawValue: 0x40 | 0x24) == .dataAbortLowerEL)
  }

  @Test func faultStatusClassification() {
    for level in 0...3 {
      let t = FaultStatus.translationFault(level: level)
      #expect(t.isTranslationFault && !t.isAccessFlagFault && !t.isPermissionFault)
      #expect(t.level == level)
      let af = FaultStatus(rawValue: 0x08 | UInt8(level))
      #expect(af.isAccessFlagFault && !af.isTranslationFault && !af.isPermissionFault)
      let perm = FaultStatus(rawValue: 0x0C | UInt8(level))
      #expect(perm.isPermissionFault && !perm.isTranslationFault && !perm.isAccessFlagFault)
    }
    let sea = FaultStatus.synchronousExternalAbort
    #expect(sea.rawValue == 0b010000)
    #expect(!sea.isTranslationFault && !sea.isAccessFlagFault && !sea.isPermissionFault)
    #expect(FaultStatus(rawValue: 0xC6) == .translationFault(level: 2))
  }
}

@Suite struct SystemRegisterISSTests {
  @Test func iccSGI1RWrite() {
    // msr ICC_SGI1R_EL1, x3
    let iss = SystemRegisterISS(sysregISS(op0: 3, op1: 0, crn: 12, crm: 11, op2: 5, rt: 3, read: false))
    #expect(!iss.isRead)
    #expect(iss.register == 3)
    #expect(iss.encoding == .iccSGI1R)
    #expect(iss.encoding == SystemRegisterEncoding(op0: 3, op1: 0, crn: 12, crm: 11, op2: 5))
    #expect(iss.encoding != .iccASGI1R && iss.encoding != .iccSGI0R)
    #expect(iss.encoding.description == "S3_0_C12_C11_5")
  }

  @Test func mdccsrRead() {
    // mrs x30, MDCCSR_EL0 (op0=2 op1=3 CRn=0 CRm=1 op2=0), as Linux's DCC probing does.
    let iss = SystemRegisterISS(sysregISS(op0: 2, op1: 3, crn: 0, crm: 1, op2: 0, rt: 30, read: true))
    #expect(iss.isRead)
    #expect(iss.register == 30)
    #expect(iss.encoding == .mdccsrEL0)
    #expect(iss.encoding.description == "S2_3_C0_C1_0")
  }

  @Test func everyFieldIsIndependent() {
    // Maximal values in each field at once must round-trip without bleeding into neighbours.
    let iss = SystemRegisterISS(sysregISS(op0: 3, op1: 7, crn: 15, crm: 15, op2: 7, rt: 31, read: true))
    #expect(iss.encoding == SystemRegisterEncoding(op0: 3, op1: 7, crn: 15, crm: 15, op2: 7))
    #expect(iss.register == 31)
    let cntpct = SystemRegisterISS(sysregISS(op0: 3, op1: 3, crn: 14, crm: 0, op2: 1, rt: 0, read: true))
    #expect(cntpct.encoding == .cntpctEL0)
    let sgi0r = SystemRegisterISS(sysregISS(op0: 3, op1: 0, crn: 12, crm: 11, op2: 7, rt: 1, read: false))
    #expect(sgi0r.encoding == .iccSGI0R)
  }

  @Test func throughAFullSyndrome() {
    let raw = esr(ec: 0x18, iss: UInt64(sysregISS(op0: 3, op1: 0, crn: 12, crm: 11, op2: 6, rt: 9, read: false)))
    let s = ExceptionSyndrome(rawValue: raw)
    #expect(s.exceptionClass == .systemRegister)
    #expect(SystemRegisterISS(s.iss).encoding == .iccASGI1R)
    #expect(SystemRegisterISS(s.iss).register == 9)
  }
}

@Suite struct TranslationResultTests {
  @Test func normalMemory() {
    // ATTR 0xFF (Normal write-back), PA 0x4812_3000, SH inner.
    #expect(TranslationResult(par: 0xFF00_0000_4812_3380) == .translated(physicalAddress: 0x4812_3000, device: false))
  }
  @Test func deviceMemory() {
    #expect(TranslationResult(par: 0x0000_0000_0801_0000) == .translated(physicalAddress: 0x0801_0000, device: true))
    #expect(TranslationResult(par: 0x0400_0000_0900_0000) == .translated(physicalAddress: 0x0900_0000, device: true))
  }
  @Test func fault() {
    // F=1, FST = translation fault level 3 (0b000111).
    #expect(TranslationResult(par: 0x7 << 1 | 1) == .fault(.translationFault(level: 3)))
  }
}
