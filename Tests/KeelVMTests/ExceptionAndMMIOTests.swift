import Testing
import KeelArch
import KeelVM

/// SPSR values of the interrupted context (M[3:0] = EL and SP select, DAIF clear).
enum Mode {
  static let el1h: UInt64 = 0b0101
  static let el1t: UInt64 = 0b0100
  static let el0t: UInt64 = 0b0000
}

@Suite struct ExceptionEntryTests {
  let vbar: UInt64 = 0xFFFF_8000_1001_0800

  /// (mode, vector offset of the synchronous entry, EC for a data abort, EC for an instruction abort)
  static let modes: [(UInt64, UInt64, UInt64, UInt64)] = [
    (Mode.el1h, 0x200, 0x25, 0x21),   // current EL with SP_ELx
    (Mode.el1t, 0x000, 0x25, 0x21),   // current EL with SP_EL0
    (Mode.el0t, 0x400, 0x24, 0x20),   // lower EL, AArch64
  ]

  @Test(arguments: modes)
  func dataAbort(mode: UInt64, vector: UInt64, dataEC: UInt64, instructionEC: UInt64) {
    let pstate = mode | 1 << 29 /* C flag, must survive into SPSR_EL1 */
    let e = ExceptionEntry(.dataAbort(address: 0x0A00_0010, isWrite: true), pc: 0x4008_1234, pstate: pstate, vbar: vbar)
    #expect(e.pc == 0xFFFF_8000_1001_0800 + vector)
    #expect(e.esrEL1 >> 26 == dataEC)
    #expect(e.esrEL1 >> 25 & 1 == 1)                         // IL: 32-bit instruction
    #expect(e.esrEL1 >> 6 & 1 == 1)                          // WnR
    #expect(e.esrEL1 & 0x3F == 0b010000)                     // DFSC: synchronous external abort
    #expect(e.esrEL1 >> 24 & 1 == 0)                         // ISV clear: no syndrome for the guest
    #expect(e.farEL1 == 0x0A00_0010)
    #expect(e.elrEL1 == 0x4008_1234)
    #expect(e.spsrEL1 == pstate)
    // Taken to EL1h with D, A, I, F masked.
    #expect(ProcessorState.exceptionLevel(e.pstate) == 1 && ProcessorState.usesSPx(e.pstate))
    #expect(e.pstate >> 6 & 0xF == 0xF)
  }

  @Test(arguments: modes)
  func instructionAbort(mode: UInt64, vector: UInt64, dataEC: UInt64, instructionEC: UInt64) {
    let e = ExceptionEntry(.instructionAbort(address: 0x1_0000_0000), pc: 0x1_0000_0000, pstate: mode, vbar: vbar)
    #expect(e.pc == vbar + vector)
    #expect(e.esrEL1 >> 26 == instructionEC)
    #expect(e.esrEL1 >> 25 & 1 == 1)
    #expect(e.esrEL1 & 0x3F == 0b010000)
    #expect(e.esrEL1 >> 6 & 1 == 0)
    #expect(e.farEL1 == 0x1_0000_0000)
    #expect(e.elrEL1 == 0x1_0000_0000 && e.spsrEL1 == mode)
  }

  @Test(arguments: modes)
  func undefined(mode: UInt64, vector: UInt64, dataEC: UInt64, instructionEC: UInt64) {
    let e = ExceptionEntry(.undefined, pc: 0x4000_0100, pstate: mode, vbar: vbar)
    #expect(e.pc == vbar + vector)
    #expect(e.esrEL1 == 1 << 25)                              // EC 0 (unknown reason), IL set, ISS 0
    #expect(e.farEL1 == nil)
    #expect(e.elrEL1 == 0x4000_0100)
  }

  @Test func readIsNotWrite() {
    let e = ExceptionEntry(.dataAbort(address: 0, isWrite: false), pc: 0, pstate: Mode.el1h, vbar: 0)
    #expect(e.esrEL1 >> 6 & 1 == 0)
  }

  @Test func vbarLowBitsAreIgnored() {
    // VBAR_EL1[10:0] are RES0: the table is 2 KiB aligned.
    let e = ExceptionEntry(.undefined, pc: 0, pstate: Mode.el1h, vbar: 0x4000_07FF)
    #expect(e.pc == 0x4000_0200)
  }
}

@Suite struct MMIOAccessTests {
  func access(sas: UInt64, sse: Bool = false, srt: UInt64 = 1, sf: Bool = true, write: Bool = false) -> MMIOAccess? {
    var iss: UInt64 = 1 << 24 | sas << 22 | srt << 16 | 0x06
    if sse { iss |= 1 << 21 }
    if sf { iss |= 1 << 15 }
    if write { iss |= 1 << 6 }
    return MMIOAccess(DataAbortISS(UInt32(iss)), address: IPA(0x0900_0000))
  }

  @Test func decodesSyndrome() throws {
    let a = try #require(access(sas: 2, srt: 7, sf: false, write: true))
    #expect(a.size == .word && a.isWrite && a.register == 7 && !a.to64Bit && !a.signExtend)
    #expect(a.address == IPA(0x0900_0000))
  }

  @Test func rejectsUnemulatable() {
    #expect(MMIOAccess(DataAbortISS(0x0000_0046), address: IPA(0)) == nil)                    // ISV clear
    #expect(MMIOAccess(DataAbortISS(1 << 24 | 2 << 22 | 1 << 7 | 0x06), address: IPA(0)) == nil)  // S1PTW
  }

  @Test func zeroExtendedLoads() throws {
    let ldrb = try #require(access(sas: 0, sf: false))
    #expect(ldrb.registerValue(afterLoading: 0xFFFF_FF80) == 0x80)
    let ldrh = try #require(access(sas: 1, sf: false))
    #expect(ldrh.registerValue(afterLoading: 0x1_8001) == 0x8001)
    let ldr = try #require(access(sas: 3))
    #expect(ldr.registerValue(afterLoading: 0x8000_0000_0000_0001) == 0x8000_0000_0000_0001)
  }

  @Test func signExtendedLoads() throws {
    // LDRSB Xt: to 64 bits.
    let ldrsbX = try #require(access(sas: 0, sse: true, sf: true))
    #expect(ldrsbX.registerValue(afterLoading: 0x80) == 0xFFFF_FFFF_FFFF_FF80)
    #expect(ldrsbX.registerValue(afterLoading: 0x7F) == 0x7F)
    // LDRSH Wt: to 32 bits, upper half of Xt zero.
    let ldrshW = try #require(access(sas: 1, sse: true, sf: false))
    #expect(ldrshW.registerValue(afterLoading: 0x8001) == 0xFFFF_8001)
    // LDRSW Xt.
    let ldrsw = try #require(access(sas: 2, sse: true, sf: true))
    #expect(ldrsw.registerValue(afterLoading: 0xFFFF_FFFE) == UInt64(bitPattern: -2))
    #expect(ldrsw.registerValue(afterLoading: 0x1_7FFF_FFFF) == 0x7FFF_FFFF)
  }

  @Test func storesTruncateAndXZRIsZero() throws {
    let strb = try #require(access(sas: 0, srt: 3, write: true))
    #expect(strb.storeValue(fromRegister: 0x1234_5678_9ABC_DEF0) == 0xF0)
    let strw = try #require(access(sas: 2, srt: 3, write: true))
    #expect(strw.storeValue(fromRegister: 0x1234_5678_9ABC_DEF0) == 0x9ABC_DEF0)
    let strXZR = try #require(access(sas: 2, srt: 31, write: true))
    #expect(strXZR.register == 31)
    #expect(strXZR.storeValue(fromRegister: 0xFFFF_FFFF) == 0)
  }
}

@Suite struct ExitCountersTests {
  @Test func summaryAndTotals() {
    var a = ExitCounters()
    a.gicAccess = 373; a.uartAccess = 20; a.hvc = 2; a.systemRegister = 5; a.wfi = 10; a.irq = 7
    var b = ExitCounters()
    b.gicAccess = 1; b.gpioAccess = 9; b.faults = 1; b.smc = 3; b.wfe = 4; b.other = 6; b.backdoor = 1
    a.add(b)
    #expect(a.dataAbort == 374 + 20 + 9 + 1)
    #expect(a.total == 404 + 2 + 3 + 5 + 10 + 4 + 7 + 6)
    // Backdoor calls are a subset of the sysreg/hvc exits, so they do not add to the total.
    #expect(a.summary == "total=441 dabt=404 (gic=374 uart=20 gpio=9 rtc=0 fault=1) hvc=2 smc=3 sysreg=5 wfi=10 wfe=4 irq=7 other=6 backdoor=1")
    #expect(ExitCounters().total == 0)
    #expect(ExitCounters().summary.hasPrefix("total=0 dabt=0 "))
  }
}

@Suite struct DataFaultEntryTests {
  /// DC ZVA on Device memory: an alignment fault reported as a write, FAR the address.
  @Test func alignmentFaultFromEL1() {
    let e = ExceptionEntry(.dataFault(address: 0x4009_0000, isWrite: true, status: .alignmentFault),
                           pc: 0x4008_0000, pstate: 0x3C5, vbar: 0x4008_0800)
    #expect(e.esrEL1 >> 26 == 0x25)
    #expect(e.esrEL1 & 0x3F == 0x21)
    #expect(e.esrEL1 >> 6 & 1 == 1)
    #expect(e.farEL1 == 0x4009_0000)
    #expect(e.pc == 0x4008_0800 + 0x200)
  }

  @Test func guestTranslationFaultFromEL0() {
    let e = ExceptionEntry(.dataFault(address: 0x1000, isWrite: true, status: .translationFault(level: 3)),
                           pc: 0x40_0000, pstate: 0, vbar: 0x4008_0800)
    #expect(e.esrEL1 >> 26 == 0x24)
    #expect(e.esrEL1 & 0x3F == 0x07)
    #expect(e.pc == 0x4008_0800 + 0x400)
  }
}
