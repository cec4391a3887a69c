import Testing
import KeelArch

@Suite struct HypervisorConfigurationTests {
  @Test func bitPositionsFromArmARM() {
    // HCR_EL2 field positions (Arm ARM D17.2.48).
    let table: [(HypervisorConfigurationRegister, Int)] = [
      (.stage2, 0), (.setWayInvalidateOverride, 1), (.protectedTableWalk, 2), (.routeFIQ, 3), (.routeIRQ, 4),
      (.routeSError, 5), (.forceBroadcast, 9), (.barrierInnerShareable, 10), (.trapWFI, 13), (.trapWFE, 14),
      (.trapSMC, 19), (.trapImplementationDefined, 20), (.trapAuxiliaryControl, 21), (.trapSetWay, 22),
      (.el1AArch64, 31), (.trapLORegions, 35), (.pointerAuthKeys, 40), (.pointerAuthInstructions, 41),
    ]
    for (flag, bit) in table {
      #expect(flag.rawValue == UInt64(1) << UInt64(bit), "bit \(bit)")
    }
  }

  @Test func guestPreset() {
    let g = HypervisorConfigurationRegister.keelGuest
    #expect(g.contains([.stage2, .routeIRQ, .routeFIQ, .routeSError, .trapSMC, .el1AArch64, .trapWFI]))
    // BSU is a two-bit field [11:10]; inner shareable is 0b01, so bit 11 must stay clear.
    #expect(g.rawValue >> 10 & 3 == 0b01)
    // E2H (34) and TGE (27) would turn EL2 into a host OS; TVM (26) would trap every MMU switch.
    #expect(g.rawValue >> 34 & 1 == 0)
    #expect(g.rawValue >> 27 & 1 == 0)
    #expect(g.rawValue >> 26 & 1 == 0)
    // VI/VF/VSE (7, 6, 8) would inject virtual interrupts outside the GIC.
    #expect(g.rawValue & (0b111 << 6) == 0)
  }
}

@Suite struct AffinityTests {
  @Test func packsFieldsLikeMPIDR() {
    let a = Affinity(aff3: 0x12, aff2: 0x34, aff1: 0x56, aff0: 0x78)
    // MPIDR_EL1: Aff3 [39:32], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0].
    #expect(a.rawValue == 0x12 << 32 | 0x34 << 16 | 0x56 << 8 | 0x78)
    #expect(a.aff0 == 0x78 && a.aff1 == 0x56 && a.aff2 == 0x34 && a.aff3 == 0x12)
    #expect(a.packed32 == 0x1234_5678)
    #expect(a.mpidr == a.rawValue | 1 << 31)
  }

  @Test func dropsNonAffinityBits() {
    // MPIDR with RES1 (31), U (30) and MT (24) set reduces to the bare affinity.
    let mpidr: UInt64 = 1 << 31 | 1 << 30 | 1 << 24 | 0x01_0000_0203 | 0xFFFF_FF00_0000_0000
    let a = Affinity(rawValue: mpidr)
    #expect(a == Affinity(aff3: 1, aff2: 0, aff1: 2, aff0: 3))
    #expect(Affinity(rawValue: a.mpidr) == a)
  }

  @Test func defaultsAreZero() {
    let a = Affinity(aff0: 5)
    #expect(a.rawValue == 5)
    #expect(a.packed32 == 5)
  }
}

@Suite struct ProcessorStateTests {
  @Test func el1hMaskedDecodes() {
    let s = ProcessorState.el1hMasked
    #expect(ProcessorState.exceptionLevel(s) == 1)
    #expect(ProcessorState.usesSPx(s))
    #expect(!ProcessorState.isAArch32(s))
    // D, A, I, F are SPSR bits 9..6.
    #expect(s >> 6 & 0xF == 0xF)
  }

  @Test func otherModes() {
    #expect(ProcessorState.exceptionLevel(0b0000) == 0)        // EL0t
    #expect(!ProcessorState.usesSPx(0b0100))                    // EL1t
    #expect(ProcessorState.exceptionLevel(0b1001) == 2)         // EL2h
    #expect(ProcessorState.isAArch32(0b1_0000))
  }
}

@Suite struct Stage2ControlTests {
  /// Decoded VTCR_EL2 fields (Arm ARM D17.2.187).
  struct Fields {
    let t0sz, sl0, irgn0, orgn0, sh0, tg0, ps, res1: UInt64
    init(_ v: UInt64) {
      t0sz = v & 0x3F; sl0 = v >> 6 & 3; irgn0 = v >> 8 & 3; orgn0 = v >> 10 & 3
      sh0 = v >> 12 & 3; tg0 = v >> 14 & 3; ps = v >> 16 & 7; res1 = v >> 31 & 1
    }
  }

  @Test(arguments: [(UInt8(0), 32), (1, 36), (2, 40), (3, 42), (4, 44), (5, 48), (6, 52)])
  func physicalAddressBits(parange: UInt8, bits: Int) {
    #expect(Stage2Control.physicalAddressBits(parange: parange) == bits)
  }

  @Test(arguments: [UInt8(0), 1, 2, 5, 6])
  func vtcrFor(parange: UInt8) {
    let c = Stage2Control(parange: parange)
    let f = Fields(c.rawValue)
    let pa = Stage2Control.physicalAddressBits(parange: parange)
    // One 4 KiB level-1 root covers at most 39 bits; never more than the host can address.
    #expect(c.ipaBits == min(pa, 39))
    #expect(f.t0sz == UInt64(64 - c.ipaBits))
    #expect(f.sl0 == 1)          // 4 KiB granule: SL0 = 1 starts at level 1
    #expect(f.tg0 == 0)          // 4 KiB granule
    #expect(f.irgn0 == 1 && f.orgn0 == 1 && f.sh0 == 3)
    #expect(f.res1 == 1)
    // PS must cover the IPA size and not exceed the host PA size (48-bit max without LPA2).
    #expect(Stage2Control.physicalAddressBits(parange: UInt8(f.ps)) >= c.ipaBits)
    #expect(f.ps == UInt64(min(parange, 5)))
    // Level-1 start with 4 KiB granule is architecturally valid for T0SZ 21...33 (RES0 otherwise).
    #expect((21...33).contains(f.t0sz))
  }

  @Test func differentHostsDifferentValues() {
    #expect(Stage2Control(parange: 0) != Stage2Control(parange: 2))
    #expect(Stage2Control(parange: 2).ipaBits == Stage2Control(parange: 5).ipaBits)
    #expect(Stage2Control(parange: 2).rawValue != Stage2Control(parange: 5).rawValue)   // PS differs
  }
}

@Suite struct AddressTests {
  @Test func ipaFromHPFARAndFAR() {
    // HPFAR_EL2.FIPA [43:4] holds IPA[51:12]; FAR_EL2 supplies the page offset.
    let ipa: UInt64 = 0x0800_6108
    let hpfar = (ipa >> 12) << 4
    let far: UInt64 = 0xFFFF_0000_1234_5108   // guest VA: only its low 12 bits matter
    #expect(IPA(hpfar: hpfar, far: far) == IPA(ipa))
  }

  @Test func hpfarReservedBitsIgnored() {
    // NS (bit 63) and bits [3:0] are not part of the address.
    let hpfar: UInt64 = 1 << 63 | 0xF | (0xF_FFFF_FFFF_F000 >> 12) << 4
    #expect(IPA(hpfar: hpfar, far: 0xABC).rawValue == 0xF_FFFF_FFFF_FABC)
  }

  @Test func offsetAndOrdering() {
    let base = IPA(0x4000_0000)
    #expect((base + 0x10).offset(from: base) == 0x10)
    #expect(base.offset(from: base + 1) == nil)
    #expect(base < base + 1)
    #expect(PA(5) + 3 == PA(8))
  }

  @Test func rangeContainsEdges() {
    let r = IPARange(base: IPA(0x1000), size: 0x1000)
    #expect(r.end == IPA(0x2000))
    #expect(!r.contains(IPA(0xFFF)))
    #expect(r.contains(IPA(0x1000)))
    #expect(r.contains(IPA(0x1FFF)))
    #expect(!r.contains(IPA(0x2000)))
    #expect(r.contains(IPA(0x1FFC), length: 4))
    #expect(!r.contains(IPA(0x1FFD), length: 4))
    #expect(r.contains(IPA(0x1000), length: 0x1000))
    #expect(!r.contains(IPA(0x1000), length: 0x1001))
    #expect(!r.contains(IPA(0xFFF), length: 1))
  }

  @Test func rangeContainsWithoutOverflow() {
    // A range ending at the top of the address space: base + size wraps to zero.
    let top = IPARange(base: IPA(UInt64.max - 0xFFF), size: 0x1000)
    #expect(top.contains(IPA(UInt64.max)))
    #expect(top.contains(IPA(UInt64.max - 7), length: 8))
    #expect(!top.contains(IPA(UInt64.max), length: 2))
    #expect(!top.contains(IPA(0)))
    // A huge length must not wrap around and look small.
    let r = IPARange(base: IPA(0x1000), size: 0x1000)
    #expect(!r.contains(IPA(0x1800), length: UInt64.max))
    #expect(!r.contains(IPA(0x1800), length: UInt64.max - 0x7FF))
    // An empty range contains nothing.
    #expect(!IPARange(base: IPA(0x1000), size: 0).contains(IPA(0x1000)))
  }

  @Test func alignment() {
    #expect(alignUp(0x1001, 0x1000) == 0x2000)
    #expect(alignUp(0x1000, 0x1000) == 0x1000)
    #expect(alignDown(0x1FFF, 0x1000) == 0x1000)
    #expect(alignUp(0, 0x20_0000) == 0)
  }
}
