import Testing
import KeelArch
import KeelVGIC

@Suite struct DistributorV3Tests {
  @Test func identification() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs(), spiCount: 224))
    let typer = g.read(Reg.typer)
    // Linux: GIC_LINE_NR = min(32 * (ITLinesNumber + 1), 1020).
    #expect(32 * ((typer & 0x1F) + 1) == 256)
    #expect((typer >> 19 & 0x1F) + 1 >= 10)        // IDbits covers INTIDs up to 1019
    #expect(typer >> 17 & 1 == 0)                  // no LPIs: Linux must not look for an ITS
    #expect(typer >> 8 & 1 == 0)                   // no extended SPIs
    // PIDR2.ArchRev [7:4] = 3: the only check Linux's gic_validate_dist_version makes.
    #expect(g.read(Reg.pidr2) >> 4 & 0xF == 3)
    #expect(g.read(Reg.iidr) & 0xFFF == 0x43B)
  }

  @Test func ctlrKeepsAffinityRoutingAndSingleSecurityState() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.write(Reg.ctlr, 0)
    var ctlr = g.read(Reg.ctlr)
    #expect(ctlr >> 4 & 1 == 1)                    // ARE
    #expect(ctlr >> 6 & 1 == 1)                    // DS: Linux then treats the GIC as non-secure-only
    #expect(ctlr & 3 == 0)
    #expect(ctlr >> 31 == 0)                       // RWP clear: Linux's gic_dist_wait_for_rwp returns at once
    g.write(Reg.ctlr, 1 << 4 | 1 << 1 | 1)
    ctlr = g.read(Reg.ctlr)
    #expect(ctlr & 3 == 3)
  }

  @Test func linuxBootSequenceReadsBack() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs(), spiCount: 64))
    g.linuxV3Init()
    #expect(g.read(Reg.igroupr + 4) == 0xFFFF_FFFF)
    #expect(g.read(Reg.icfgr + 8) == 0)
    #expect(g.read(Reg.ipriorityr + 32) == 0xA0A0_A0A0)
    #expect(g.read(Reg.isenabler + 4) == 0)
    #expect(g.read(Reg.irouter + 40 * 8, .doubleword) == 0)
    // SGIs are enabled in the redistributor of every CPU, not in the distributor.
    for cpu in 0..<4 {
      #expect(g.readR(cpu, Reg.sgiBase + Reg.isenabler) == 0xFFFF)
      #expect(g.readR(cpu, Reg.sgiBase + Reg.igroupr) == 0xFFFF_FFFF)
      #expect(g.readR(cpu, Reg.sgiBase + Reg.ipriorityr + 8) == 0xA0A0_A0A0)
      #expect(g.readR(cpu, Reg.gicrWaker) & 0b110 == 0)
    }
  }

  @Test func privateInterruptsAreNotInTheDistributor() {
    // With ARE set, GICD_ISENABLER0 and friends are RAZ/WI: the redistributor owns INTIDs 0-31.
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.write(Reg.isenabler, 0xFFFF_FFFF)
    g.write(Reg.igroupr, 0xFFFF_FFFF)
    #expect(g.read(Reg.isenabler) == 0)
    #expect(g.read(Reg.igroupr) == 0)
    #expect(g.readR(0, Reg.sgiBase + Reg.isenabler) == 0)
    #expect(g.read(Reg.irouter + 31 * 8, .doubleword) == 0)
    g.write(Reg.irouter + 31 * 8, 1, .doubleword)
    #expect(g.read(Reg.irouter + 31 * 8, .doubleword) == 0)
  }

  @Test func enableSetClear() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.write(Reg.isenabler + 4, 1 << 1 | 1 << 5)        // INTIDs 33, 37
    #expect(g.read(Reg.isenabler + 4) == 1 << 1 | 1 << 5)
    #expect(g.read(Reg.icenabler + 4) == 1 << 1 | 1 << 5)
    g.write(Reg.isenabler + 4, 0)                      // zeros have no effect
    #expect(g.read(Reg.isenabler + 4) == 1 << 1 | 1 << 5)
    g.write(Reg.icenabler + 4, 1 << 1)
    #expect(g.read(Reg.isenabler + 4) == 1 << 5)
  }

  @Test func pendingSetClearAndReadBack() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    let b = Guest.bit(Reg.ispendr, 40)
    g.write(b.offset, b.value)
    #expect(g.read(b.offset) == b.value)
    #expect(g.read(Guest.bit(Reg.icpendr, 40).offset) == b.value)
    g.write(Guest.bit(Reg.icpendr, 40).offset, b.value)
    #expect(g.read(b.offset) == 0)
  }

  @Test func priorityByteAccess() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.write(Reg.ipriorityr + 32, 0x4030_2010)
    g.write(Reg.ipriorityr + 34, 0xEE, .byte)           // INTID 34 alone
    #expect(g.read(Reg.ipriorityr + 32) == 0x40EE_2010)
    #expect(g.read(Reg.ipriorityr + 35, .byte) == 0x40)
    #expect(g.read(Reg.ipriorityr + 34, .halfword) == 0x40EE)
  }

  @Test func configurationReadsBackForLinuxTypeCheck() {
    // gic_configure_irq writes Int_config[1] and fails with -EINVAL unless the value reads back.
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    let off = Reg.icfgr + UInt64(44 / 16) * 4
    let edge44: UInt64 = 2 << UInt64(2 * (44 % 16))
    g.write(off, edge44)
    #expect(g.read(off) == edge44)
    g.write(off, 0)
    #expect(g.read(off) == 0)
  }

  @Test func irouterAccesses() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    let reg = Reg.irouter + 50 * 8
    // Aff3 [39:32], IRM [31], Aff2 [23:16], Aff1 [15:8], Aff0 [7:0]; everything else is RES0.
    g.write(reg, 0xFFFF_FF12_FFFF_FFFF, .doubleword)
    #expect(g.read(reg, .doubleword) == 0x12_80FF_FFFF)
    g.write(reg, 0x0000_0102, .doubleword)
    #expect(g.read(reg, .doubleword) == 0x0102)
    // 32-bit halves.
    g.write(reg + 4, 0x7, .word)
    #expect(g.read(reg, .doubleword) == 0x7_0000_0102)
    #expect(g.read(reg + 4, .word) == 0x7)
    g.write(reg, 0x0003_0000, .word)
    #expect(g.read(reg, .word) == 0x0003_0000)
    #expect(g.read(reg, .doubleword) == 0x7_0003_0000)
  }

  @Test func spiFollowsIRouter() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    g.enable(48)
    // Route SPI 48 to vCPU 3 (Aff1 = 1, Aff0 = 1).
    g.write(Reg.irouter + 48 * 8, 1 << 8 | 1, .doubleword)
    let e = g.setLevel(intid: 48, true)
    #expect(e.kick == 1 << 3)
    #expect(g.gic.hasDeliverable(vcpu: 3))
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.drain(0).isEmpty)
    #expect(g.drain(3).map(\.virtualID) == [48])
  }

  @Test func oneOfNRoutingAndUnknownAffinityGoToVCPU0() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    g.enable(49); g.enable(50)
    g.write(Reg.irouter + 49 * 8, 1 << 31 | 1, .doubleword)   // IRM
    g.write(Reg.irouter + 50 * 8, 0x7F, .doubleword)           // nobody
    #expect(g.setLevel(intid: 49, true).kick == 1)
    #expect(g.setLevel(intid: 50, true).kick == 1)
    #expect(g.drain(0).map(\.virtualID).sorted() == [49, 50])
  }

  @Test func rerouteKicksTheNewTarget() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    _ = g.setLevel(intid: 40, true)                         // pending but disabled
    g.enable(40)
    let e = g.write(Reg.irouter + 40 * 8, 1, .doubleword)       // to vCPU 1
    #expect(e.kick == 1 << 1)
    #expect(g.drain(1).map(\.virtualID) == [40])
  }
}

@Suite struct RedistributorTests {
  @Test func typerLastBitAndAffinity() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    #expect(g.gic.redistributorRegionSize == 4 * Reg.redistributorStride)
    for (cpu, a) in fourCPUs().enumerated() {
      let typer = g.readR(cpu, Reg.gicrTyper, .doubleword)
      // Affinity_Value [63:32] = Aff3.Aff2.Aff1.Aff0, as gic_populate_rdist matches it against MPIDR.
      #expect(typer >> 32 == UInt64(a.aff3) << 24 | UInt64(a.aff2) << 16 | UInt64(a.aff1) << 8 | UInt64(a.aff0))
      #expect(typer >> 8 & 0xFFFF == UInt64(cpu))               // Processor_Number
      #expect(typer >> 4 & 1 == (cpu == 3 ? 1 : 0))             // Last: ends gic_iterate_rdists
      #expect(typer & 0b1011 == 0)                              // no PLPIS, VLPIS, DirectLPI: 128 KiB stride
      #expect(g.readR(cpu, Reg.gicrTyper, .word) == typer & 0xFFFF_FFFF)
      #expect(g.readR(cpu, Reg.gicrTyper + 4, .word) == typer >> 32)
      #expect(g.readR(cpu, 0xFFE8) >> 4 & 0xF == 3)             // GICR_PIDR2.ArchRev
    }
    // Past the last frame: nothing.
    #expect(g.readR(4, Reg.gicrTyper, .doubleword) == 0)
    #expect(g.readR(4, 0xFFE8) == 0)
  }

  @Test func singleCPUIsLast() {
    let g = Guest(gic: VGIC(version: .v3, affinities: [Affinity(aff0: 0)]))
    #expect(g.readR(0, Reg.gicrTyper) >> 4 & 1 == 1)
  }

  @Test func wakerHandshake() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    // Reset: ProcessorSleep and ChildrenAsleep set.
    #expect(g.readR(1, Reg.gicrWaker) & 0b110 == 0b110)
    let v = g.readR(1, Reg.gicrWaker)
    g.writeR(1, Reg.gicrWaker, v & ~2)
    // gic_enable_redist polls until ChildrenAsleep clears.
    #expect(g.readR(1, Reg.gicrWaker) & 0b110 == 0)
    #expect(g.readR(0, Reg.gicrWaker) & 0b110 == 0b110)        // frames are independent
    g.writeR(1, Reg.gicrWaker, 2)
    #expect(g.readR(1, Reg.gicrWaker) & 0b100 == 0b100)
  }

  @Test func privateConfiguration() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    // SGIs are edge and fixed.
    #expect(g.readR(0, Reg.sgiBase + Reg.icfgr) == 0xAAAA_AAAA)
    g.writeR(0, Reg.sgiBase + Reg.icfgr, 0)
    #expect(g.readR(0, Reg.sgiBase + Reg.icfgr) == 0xAAAA_AAAA)
    // PPIs are programmable per CPU.
    let edge27: UInt64 = 2 << UInt64(2 * (27 - 16))
    g.writeR(2, Reg.sgiBase + Reg.icfgr + 4, edge27)
    #expect(g.readR(2, Reg.sgiBase + Reg.icfgr + 4) == edge27)
    #expect(g.readR(1, Reg.sgiBase + Reg.icfgr + 4) == 0)
  }

  @Test func framesAreBankedByOwnerNotAccessor() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.vcpu = 0
    g.writeR(2, Reg.sgiBase + Reg.isenabler, 1 << 27)
    g.writeR(2, Reg.sgiBase + Reg.ipriorityr + 27, 0x30, .byte)
    g.vcpu = 2
    #expect(g.readR(2, Reg.sgiBase + Reg.isenabler) == 1 << 27)
    #expect(g.readR(0, Reg.sgiBase + Reg.isenabler) == 0)
    #expect(g.readR(2, Reg.sgiBase + Reg.ipriorityr + 24) == 0x30 << 24)
  }
}

@Suite struct SGIv3Tests {
  /// ICC_SGI1R_EL1: TargetList [15:0], Aff1 [23:16], INTID [27:24], Aff2 [39:32], IRM [40], RS [47:44], Aff3 [55:48].
  func sgi1r(intid: UInt64, targets: UInt64, aff1: UInt64 = 0, aff2: UInt64 = 0, aff3: UInt64 = 0, rs: UInt64 = 0,
             irm: Bool = false) -> UInt64 {
    targets | aff1 << 16 | intid << 24 | aff2 << 32 | (irm ? 1 << 40 : 0) | rs << 44 | aff3 << 48
  }

  @Test func targetListWithinACluster() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    let e = g.sendSGI(from: 0, value: sgi1r(intid: 3, targets: 0b11, aff1: 1))
    #expect(e.kick == 1 << 2 | 1 << 3)
    #expect(g.drain(2).map(\.virtualID) == [3])
    #expect(g.drain(3).map(\.virtualID) == [3])
    #expect(g.drain(0).isEmpty && g.drain(1).isEmpty)
  }

  @Test func toSelf() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    #expect(g.sendSGI(from: 1, value: sgi1r(intid: 0, targets: 0b10)).kick == 1 << 1)
    let lr = g.drain(1)
    #expect(lr.count == 1)
    #expect(lr.first?.group1 == true && lr.first?.priority == 0xA0 && lr.first?.eoiMaintenance == false)
  }

  @Test func broadcastExcludesSender() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    let e = g.sendSGI(from: 2, value: sgi1r(intid: 5, targets: 0, irm: true))
    #expect(e.kick == 0b1011)
    #expect(g.drain(2).isEmpty)
  }

  @Test func rangeSelector() {
    // Aff0 = 17 is TargetList bit 1 with RS = 1.
    let cpus = [Affinity(aff0: 0), Affinity(aff0: 1), Affinity(aff0: 17)]
    let g = Guest(gic: VGIC(version: .v3, affinities: cpus))
    g.linuxV3Init()
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 1, targets: 0b10, rs: 1)).kick == 1 << 2)
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 1, targets: 0b10, rs: 0)).kick == 1 << 1)
  }

  @Test func higherAffinityLevelsMustMatch() {
    let cpus = [Affinity(aff0: 0), Affinity(aff2: 1, aff0: 0), Affinity(aff3: 1, aff0: 0)]
    let g = Guest(gic: VGIC(version: .v3, affinities: cpus))
    g.linuxV3Init()
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 1, targets: 1, aff2: 1)).kick == 1 << 1)
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 1, targets: 1, aff3: 1)).kick == 1 << 2)
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 1, targets: 1, aff1: 1)).kick == 0)
  }

  @Test func disabledSGIStaysPendingUntilEnabled() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    // No init: SGIs start disabled on GICv3.
    #expect(g.sendSGI(from: 0, value: sgi1r(intid: 4, targets: 0b10)).kick == 0)
    #expect(!g.gic.hasDeliverable(vcpu: 1))
    #expect(g.readR(1, Reg.sgiBase + Reg.ispendr) == 1 << 4)
    g.writeR(1, Reg.sgiBase + Reg.igroupr, 1 << 4)
    g.write(Reg.ctlr, 1 << 4 | 2)
    let e = g.writeR(1, Reg.sgiBase + Reg.isenabler, 1 << 4)
    #expect(e.kick == 1 << 1)
    #expect(g.drain(1).map(\.virtualID) == [4])
  }
}
