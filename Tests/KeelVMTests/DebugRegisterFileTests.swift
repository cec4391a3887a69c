import Testing
import KeelArch
import KeelVM

@Suite struct DebugRegisterFileTests {
  /// QEMU's cortex-a72: 6 breakpoints, 4 watchpoints.
  static let a72: UInt64 = 0x1012_5106 | 3 << 20 | 5 << 12

  @Test func decodesBreakpointAndWatchpointRegisters() {
    let bvr3 = SystemRegisterEncoding(op0: 2, op1: 0, crn: 0, crm: 3, op2: 4)
    #expect(DebugRegisterFile.decode(bvr3)! == (.breakpointValue, 3))
    #expect(DebugRegisterFile.decode(SystemRegisterEncoding(op0: 2, op1: 0, crn: 0, crm: 15, op2: 7))! == (.watchpointControl, 15))
    // MDSCR_EL1 (op2 2), MDCCSR_EL0 (op1 3) and OSLAR_EL1 (CRn 1) are not among them.
    #expect(DebugRegisterFile.decode(SystemRegisterEncoding(op0: 2, op1: 0, crn: 0, crm: 2, op2: 2)) == nil)
    #expect(DebugRegisterFile.decode(SystemRegisterEncoding(op0: 2, op1: 3, crn: 0, crm: 1, op2: 0)) == nil)
    #expect(DebugRegisterFile.decode(SystemRegisterEncoding(op0: 2, op1: 0, crn: 1, crm: 0, op2: 4)) == nil)
  }

  @Test func countsComeFromTheIDRegister() {
    let file = DebugRegisterFile(idAA64DFR0: Self.a72)
    #expect(file.breakpoints == 6 && file.watchpoints == 4)
    #expect(!file.touched)
  }

  @Test func writesKeepImplementedBitsAndMarkTheVCPU() {
    var file = DebugRegisterFile(idAA64DFR0: Self.a72)
    #expect(file.write(.breakpointControl, 5, ~0) == 0x00FF_E1E7)
    #expect(file.read(.breakpointControl, 5) == 0x00FF_E1E7)
    #expect(file.write(.watchpointValue, 0, 0x4008_1003) == 0x4008_1000)
    #expect(file.touched)
  }

  /// Breakpoint 6 and watchpoint 4 do not exist on this CPU: written nowhere, read as zero.
  @Test func unimplementedRegistersAreIgnored() {
    var file = DebugRegisterFile(idAA64DFR0: Self.a72)
    #expect(file.write(.breakpointValue, 6, 0x1234) == nil)
    #expect(file.write(.watchpointControl, 4, 1) == nil)
    #expect(file.read(.breakpointValue, 6) == 0)
    #expect(!file.touched)
  }
}

@Suite struct ShadowRegistersTests {
  @Test func readsBackWhatWasWrittenAndZeroOtherwise() {
    var shadow = ShadowRegisters()
    #expect(shadow[0x1234] == 0)
    shadow[0x1234] = 7
    shadow[0x1234] = 9
    shadow[0x10] = 1
    #expect(shadow[0x1234] == 9)
    #expect(shadow[0x10] == 1)
    #expect(shadow[0x11] == 0)
  }

  @Test func aGuestCannotGrowItPastItsCapacity() {
    var shadow = ShadowRegisters()
    for key in 0..<UInt32(ShadowRegisters.capacity) { shadow[key] = UInt64(key) + 1 }
    shadow[0xFFFF] = 5
    #expect(shadow[0xFFFF] == 0)
    #expect(shadow[UInt32(ShadowRegisters.capacity) - 1] == UInt64(ShadowRegisters.capacity))
    shadow[3] = 42
    #expect(shadow[3] == 42)
  }
}
