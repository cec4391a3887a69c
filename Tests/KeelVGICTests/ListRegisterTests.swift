import Testing
import KeelVGIC

@Suite struct ListRegisterV3Tests {
  @Test func softwareInterruptBits() {
    let lr = ListRegister(virtualID: 33, state: .pending, group1: true, priority: 0xA0, eoiMaintenance: true)
    let raw = lr.v3
    // ICH_LR<n>_EL2: State [63:62], HW [61], Group [60], Priority [55:48], EOI [41] (HW = 0), vINTID [31:0].
    #expect(raw >> 62 == 0b01)
    #expect(raw >> 61 & 1 == 0)
    #expect(raw >> 60 & 1 == 1)
    #expect(raw >> 48 & 0xFF == 0xA0)
    #expect(raw >> 41 & 1 == 1)
    #expect(raw & 0xFFFF_FFFF == 33)
    #expect(raw == 1 << 62 | 1 << 60 | 0xA0 << 48 | 1 << 41 | 33)
  }

  @Test func hardwareInterruptBits() {
    let lr = ListRegister(virtualID: 27, state: .pending, group1: true, priority: 0x80, hardware: true, physicalID: 27,
                          eoiMaintenance: true)
    let raw = lr.v3
    #expect(raw >> 61 & 1 == 1)
    #expect(raw >> 32 & 0x1FFF == 27)          // pINTID [44:32]
    // With HW set, bit 41 belongs to pINTID, so a maintenance request cannot be encoded.
    #expect(raw >> 41 & 1 == 0)
    #expect(raw == 1 << 62 | 1 << 61 | 1 << 60 | 0x80 << 48 | 27 << 32 | 27)
  }

  @Test(arguments: [ListRegisterState.invalid, .pending, .active, .pendingActive])
  func statesEncode(_ state: ListRegisterState) {
    let raw = ListRegister(virtualID: 1, state: state, group1: false, priority: 0).v3
    #expect(raw >> 62 == UInt64(state.rawValue))
    #expect(ListRegister(v3: raw).state == state)
  }

  @Test func roundTrips() {
    let samples = [
      ListRegister(virtualID: 0, state: .pending, group1: false, priority: 0),
      ListRegister(virtualID: 1019, state: .pendingActive, group1: true, priority: 0xFF),
      ListRegister(virtualID: 40, state: .active, group1: true, priority: 0x10, eoiMaintenance: true),
      ListRegister(virtualID: 27, state: .pending, group1: true, priority: 0xA0, hardware: true, physicalID: 27),
      ListRegister(virtualID: 26, state: .active, group1: false, priority: 0x08, hardware: true, physicalID: 1019),
    ]
    for lr in samples {
      #expect(ListRegister(v3: lr.v3) == lr)
    }
  }

  @Test func decodesHandEncodedRegister() {
    // Active, HW, group 1, priority 0x20, pINTID 30, vINTID 27.
    let raw: UInt64 = 0b10 << 62 | 1 << 61 | 1 << 60 | 0x20 << 48 | 30 << 32 | 27
    let lr = ListRegister(v3: raw)
    #expect(lr == ListRegister(virtualID: 27, state: .active, group1: true, priority: 0x20, hardware: true, physicalID: 30))
    // Software: EOI bit read, pINTID ignored.
    let sw = ListRegister(v3: 0b01 << 62 | 1 << 41 | 44)
    #expect(sw.eoiMaintenance && !sw.hardware && sw.physicalID == 0 && sw.virtualID == 44 && !sw.group1)
  }
}

@Suite struct ListRegisterV2Tests {
  @Test func softwareInterruptBits() {
    let lr = ListRegister(virtualID: 3, state: .pending, group1: false, priority: 0xA0, eoiMaintenance: true, sourceCPU: 5)
    let raw = lr.v2
    // GICH_LR<n>: HW [31], Grp1 [30], State [29:28], Priority [27:23], EOI [19], CPUID [12:10], VirtualID [9:0].
    #expect(raw >> 31 == 0)
    #expect(raw >> 30 & 1 == 0)
    #expect(raw >> 28 & 3 == 0b01)
    #expect(raw >> 23 & 0x1F == 0xA0 >> 3)
    #expect(raw >> 19 & 1 == 1)
    #expect(raw >> 10 & 7 == 5)
    #expect(raw & 0x3FF == 3)
    #expect(raw == 1 << 28 | (0xA0 >> 3) << 23 | 1 << 19 | 5 << 10 | 3)
  }

  @Test func hardwareInterruptBits() {
    let lr = ListRegister(virtualID: 27, state: .pending, group1: true, priority: 0xF8, hardware: true, physicalID: 27)
    let raw = lr.v2
    #expect(raw >> 31 == 1)
    #expect(raw >> 30 & 1 == 1)
    #expect(raw >> 10 & 0x3FF == 27)           // PhysicalID [19:10]
    #expect(raw == 1 << 31 | 1 << 30 | 1 << 28 | 0x1F << 23 | 27 << 10 | 27)
  }

  @Test func priorityKeepsTheTopFiveBits() {
    let raw = ListRegister(virtualID: 1, state: .pending, group1: false, priority: 0xA7).v2
    #expect(ListRegister(v2: raw).priority == 0xA0)
  }

  @Test func roundTrips() {
    let samples = [
      ListRegister(virtualID: 0, state: .pending, group1: false, priority: 0, sourceCPU: 7),
      ListRegister(virtualID: 1019, state: .pendingActive, group1: true, priority: 0xF8),
      ListRegister(virtualID: 33, state: .active, group1: false, priority: 0xA0, eoiMaintenance: true),
      ListRegister(virtualID: 27, state: .pending, group1: false, priority: 0xA0, hardware: true, physicalID: 27),
      ListRegister(virtualID: 30, state: .invalid, group1: true, priority: 0x08, hardware: true, physicalID: 1019),
    ]
    for lr in samples {
      #expect(ListRegister(v2: lr.v2) == lr)
    }
  }

  @Test func decodesHandEncodedRegister() {
    // What GICV_IAR later reports for an SGI 2 from CPU 3: the LR carries the source in CPUID.
    let raw: UInt32 = 0b01 << 28 | (0x80 >> 3) << 23 | 3 << 10 | 2
    #expect(ListRegister(v2: raw) == ListRegister(virtualID: 2, state: .pending, group1: false, priority: 0x80, sourceCPU: 3))
    let hw = ListRegister(v2: 1 << 31 | 0b10 << 28 | 26 << 10 | 27)
    #expect(hw.hardware && hw.physicalID == 26 && hw.virtualID == 27 && hw.state == .active && hw.sourceCPU == 0)
  }
}
