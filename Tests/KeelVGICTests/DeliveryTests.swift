import Testing
import KeelArch
import KeelVGIC

@Suite struct DeliveryTests {
  func booted(_ version: GICVersion = .v3, cpus: [Affinity] = fourCPUs()) -> Guest {
    let g = Guest(gic: VGIC(version: version, affinities: cpus))
    if version == .v3 { g.linuxV3Init() } else { g.linuxV2Init() }
    return g
  }

  @Test func nothingPendingAfterBoot() {
    let g = booted()
    for cpu in 0..<4 {
      #expect(!g.gic.hasDeliverable(vcpu: cpu))
      #expect(g.drain(cpu).isEmpty)
      #expect(!g.gic.needsFlush(vcpu: cpu))
    }
  }

  @Test func levelSPIIsOfferedAgainWhileTheLineStaysHigh() throws {
    let g = booted()
    g.enable(33)
    #expect(g.setLevel(intid: 33, true).kick == 1)
    #expect(g.gic.needsFlush(vcpu: 0))
    let lr = try #require(g.take(0))
    #expect(lr.virtualID == 33 && lr.state == .pending && lr.group1 && lr.priority == 0xA0)
    // Level-sensitive: ask for a maintenance interrupt on EOI so the line can be resampled.
    #expect(lr.eoiMaintenance && !lr.hardware)
    // Resident: not offered twice.
    #expect(g.take(0) == nil)
    #expect(!g.gic.needsFlush(vcpu: 0))
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    // The guest acknowledged it.
    var active = lr; active.state = .active
    #expect(!g.synced(active, vcpu: 0))
    #expect(g.read(Guest.bit(Reg.isactiver, 33).offset) == Guest.bit(Reg.isactiver, 33).value)
    #expect(g.take(0) == nil)
    // EOI while the device still asserts the line: pending again.
    #expect(g.complete(lr, on: 0))
    #expect(g.read(Guest.bit(Reg.isactiver, 33).offset) == 0)
    #expect(g.gic.needsFlush(vcpu: 0))
    #expect(g.gic.hasDeliverable(vcpu: 0))
    let again = try #require(g.take(0))
    #expect(again.virtualID == 33)
    // The device dropped the line before this EOI: done.
    #expect(g.setLevel(intid: 33, false).kick == 0)
    g.complete(again, on: 0)
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
  }

  @Test func levelLineReadsPendingWhileHigh() {
    let g = booted()
    _ = g.setLevel(intid: 34, true)
    let b = Guest.bit(Reg.ispendr, 34)
    #expect(g.read(b.offset) & b.value != 0)
    // ICPENDR cannot clear a level interrupt whose line is still asserted.
    g.write(Guest.bit(Reg.icpendr, 34).offset, b.value)
    #expect(g.read(b.offset) & b.value != 0)
    _ = g.setLevel(intid: 34, false)
    #expect(g.read(b.offset) & b.value == 0)
  }

  @Test func edgeSPIIsDeliveredOnce() throws {
    let g = booted()
    let cfg = Reg.icfgr + UInt64(35 / 16) * 4
    g.write(cfg, 2 << UInt64(2 * (35 % 16)))
    g.enable(35)
    let b = Guest.bit(Reg.ispendr, 35)
    #expect(g.write(b.offset, b.value).kick == 1)
    let lr = try #require(g.take(0))
    #expect(lr.virtualID == 35 && !lr.eoiMaintenance)
    // Still reads pending while only pending in the list register.
    #expect(g.read(b.offset) == b.value)
    g.complete(lr, on: 0)
    #expect(g.take(0) == nil)
    #expect(g.read(b.offset) == 0)
  }

  @Test func disabledOrUngroupedInterruptsAreHeld() {
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.write(Reg.igroupr + 4, 0xFFFF_FFFF)
    g.enable(36)
    // Distributor groups still disabled.
    #expect(g.setLevel(intid: 36, true).kick == 0)
    #expect(!g.gic.hasDeliverable(vcpu: 0))
    #expect(g.take(0) == nil)
    // Enabling Group 1 makes it deliverable and kicks its target.
    let e = g.write(Reg.ctlr, 1 << 4 | 2)
    #expect(e.kick == 1)
    #expect(g.gic.needsFlush(vcpu: 0))
    #expect(g.gic.hasDeliverable(vcpu: 0))
    // Group 0 only would not have done.
    g.write(Reg.ctlr, 1)
    #expect(!g.gic.hasDeliverable(vcpu: 0))
  }

  @Test func takeNextOrdersByPriority() {
    let g = booted()
    for (intid, prio) in [(40, 0xC0), (41, 0x20), (42, 0x80), (43, 0x20)] {
      g.write(Reg.ipriorityr + UInt64(intid), UInt64(prio), .byte)
      g.enable(intid)
      _ = g.setLevel(intid: UInt32(intid), true)
    }
    // A PPI on vCPU 0 at a priority between them.
    g.writeR(0, Reg.sgiBase + Reg.ipriorityr + 20, 0x60, .byte)
    g.writeR(0, Reg.sgiBase + Reg.isenabler, 1 << 20)
    g.writeR(0, Reg.sgiBase + Reg.ispendr, 1 << 20)
    let order = g.drain(0)
    #expect(order.map(\.priority) == order.map(\.priority).sorted())
    #expect(order.map(\.virtualID) == [41, 43, 20, 42, 40])
  }

  @Test func hardwareLinkedPPI() throws {
    let g = booted()
    g.vcpu = 1
    g.enable(27, v3: 1)
    let e = g.injectHardware(intid: 27, vcpu: 1)
    #expect(e.kick == 1 << 1)
    #expect(e.deactivateHardware == 0)
    let lr = try #require(g.take(1))
    #expect(lr.hardware && lr.physicalID == 27 && lr.virtualID == 27)
    #expect(!lr.eoiMaintenance)                  // the guest's EOI goes straight to the physical GIC
    #expect(lr.v3 >> 61 & 1 == 1)
    #expect(g.take(1) == nil)
    // After the guest deactivates it, it is not offered again until the timer fires again.
    g.complete(lr, on: 1)
    #expect(g.take(1) == nil)
    #expect(g.drain(0).isEmpty)
    _ = g.injectHardware(intid: 27, vcpu: 1)
    #expect(g.take(1)?.hardware == true)
  }

  @Test func injectHardwareRejectsSharedAndUnknown() {
    let g = booted()
    #expect(g.injectHardware(intid: 40, vcpu: 0) == VGICEffects())
    #expect(g.injectHardware(intid: 27, vcpu: 9) == VGICEffects())
    #expect(g.setLevel(intid: 27, true) == VGICEffects())    // private lines are not device-driven
    #expect(g.setLevel(intid: 5000, true) == VGICEffects())
  }

  @Test func clearingALatchedHardwareInterruptReleasesThePhysicalOne() {
    let g = booted()
    // The timer fired while the guest had its PPI disabled: latched, physical copy still active.
    #expect(g.injectHardware(intid: 27, vcpu: 0).kick == 0)
    #expect(g.readR(0, Reg.sgiBase + Reg.ispendr) == 1 << 27)
    let e = g.writeR(0, Reg.sgiBase + Reg.icpendr, 1 << 27)
    #expect(e.deactivateHardware == 1 << 27)
    #expect(g.readR(0, Reg.sgiBase + Reg.ispendr) == 0)
    // Enabling it later delivers nothing stale.
    g.enable(27, v3: 0)
    #expect(g.take(0) == nil)
    // Clearing an interrupt that is not hardware-latched deactivates nothing.
    #expect(g.writeR(0, Reg.sgiBase + Reg.icpendr, 1 << 27).deactivateHardware == 0)
  }

  @Test func clearingAnUnlatchedHardwareInterruptDoesNothing() throws {
    let g = booted()
    g.enable(27, v3: 0)
    _ = g.injectHardware(intid: 27, vcpu: 0)
    _ = try #require(g.take(0))     // now in a list register, owned by hardware
    #expect(g.writeR(0, Reg.sgiBase + Reg.icpendr, 1 << 27).deactivateHardware == 0)
  }

  @Test func needsFlushTracksNewWork() {
    let g = booted()
    g.enable(45)
    #expect(!g.gic.needsFlush(vcpu: 0))
    _ = g.setLevel(intid: 45, true)
    #expect(g.gic.needsFlush(vcpu: 0))
    #expect(!g.gic.needsFlush(vcpu: 1))
    _ = g.drain(0)
    #expect(!g.gic.needsFlush(vcpu: 0))
  }

  @Test func kickMasksMergeAcrossTargets() {
    let g = booted()
    var e = VGICEffects()
    for (intid, cpu) in [(40, 1), (41, 3)] {
      let a = fourCPUs()[cpu]
      g.write(Reg.irouter + UInt64(intid) * 8, UInt64(a.aff1) << 8 | UInt64(a.aff0), .doubleword)
      g.enable(intid)
      e.merge(g.setLevel(intid: UInt32(intid), true))
    }
    #expect(e.kick == 1 << 1 | 1 << 3)
    var d = VGICEffects(); d.deactivateHardware = 1 << 27
    e.merge(d)
    #expect(e.deactivateHardware == 1 << 27 && e.kick == 1 << 1 | 1 << 3)
  }
}

@Suite struct GICv2Tests {
  func booted(cpus: Int = 4) -> Guest {
    let g = Guest(gic: VGIC(version: .v2, affinities: (0..<cpus).map { Affinity(aff0: UInt8($0)) }))
    g.linuxV2Init()
    return g
  }

  @Test func identification() {
    let g = Guest(gic: VGIC(version: .v2, affinities: (0..<3).map { Affinity(aff0: UInt8($0)) }, spiCount: 96))
    let typer = g.read(Reg.typer)
    #expect(32 * ((typer & 0x1F) + 1) == 128)
    #expect((typer >> 5 & 7) + 1 == 3)           // CPUNumber
    #expect(typer >> 10 & 1 == 0)                // no Security Extensions
    #expect(g.read(Reg.pidr2) >> 4 & 0xF == 2)
    // No redistributors, no IROUTER.
    #expect(g.readR(0, Reg.gicrTyper) == 0)
    #expect(g.read(Reg.irouter + 40 * 8, .doubleword) == 0)
    g.write(Reg.ctlr, 1)
    #expect(g.read(Reg.ctlr) == 1)
  }

  @Test func itargetsrOfPrivateInterruptsNamesTheReader() {
    // gic_get_cpumask ORs the bytes of ITARGETSR0..7 to learn its own CPU interface number.
    let g = booted()
    for cpu in 0..<4 {
      g.vcpu = cpu
      let word = g.read(Reg.itargetsr)
      #expect(word == UInt64(0x0101_0101) << UInt64(cpu))
      #expect(g.read(Reg.itargetsr + 31, .byte) == 1 << UInt64(cpu))
    }
    // Writes to them are ignored.
    g.write(Reg.itargetsr, 0xFFFF_FFFF)
    #expect(g.read(Reg.itargetsr) == UInt64(0x0101_0101) << 3)
  }

  @Test func itargetsrByteAccessForSPIs() {
    let g = booted()
    #expect(g.read(Reg.itargetsr + 32) == 0x0101_0101)           // Linux routed everything to CPU 0
    // irq_set_affinity: writeb of one target byte.
    g.write(Reg.itargetsr + 34, 0x04, .byte)
    #expect(g.read(Reg.itargetsr + 32) == 0x0104_0101)
    // Targets beyond the last CPU interface are dropped.
    g.write(Reg.itargetsr + 35, 0xF8, .byte)
    #expect(g.read(Reg.itargetsr + 35, .byte) == 0x08)
    // SPI 34 now goes to vCPU 2.
    g.enable(34)
    #expect(g.setLevel(intid: 34, true).kick == 1 << 2)
    #expect(g.drain(2).map(\.virtualID) == [34])
  }

  @Test func lowestTargetWinsAndEmptyGoesToCPU0() {
    let g = booted()
    g.write(Reg.itargetsr + 36, 0b1100, .byte)
    g.write(Reg.itargetsr + 37, 0, .byte)
    g.enable(36); g.enable(37)
    #expect(g.setLevel(intid: 36, true).kick == 1 << 2)
    #expect(g.setLevel(intid: 37, true).kick == 1)
  }

  @Test func sgisAreAlwaysEnabled() {
    let g = booted()
    g.write(Reg.icenabler, 0xFFFF_FFFF)
    #expect(g.read(Reg.isenabler) & 0xFFFF == 0xFFFF)
    #expect(g.read(Reg.icfgr) == 0xAAAA_AAAA)
  }

  @Test func sgirTargetListCarriesTheSource() throws {
    let g = booted()
    g.vcpu = 1
    // GICD_SGIR: TargetListFilter [25:24] = 0, CPUTargetList [23:16], SGIINTID [3:0].
    let e = g.write(Reg.sgir, 0b0101 << 16 | 2)
    #expect(e.kick == 0b0101)
    let lr = try #require(g.take(2))
    #expect(lr.virtualID == 2 && lr.sourceCPU == 1)
    // What the guest's GICC_IAR will show: CPUID [12:10] from the LR.
    #expect(lr.v2 >> 10 & 7 == 1 && lr.v2 & 0x3FF == 2)
    #expect(try #require(g.take(0)).sourceCPU == 1)
    #expect(g.drain(1).isEmpty && g.drain(3).isEmpty)
  }

  @Test func sgirFilters() {
    let g = booted()
    g.vcpu = 2
    #expect(g.write(Reg.sgir, 1 << 24 | 7).kick == 0b1011)         // all but self
    #expect(g.write(Reg.sgir, 2 << 24 | 7).kick == 0b0100)         // self only
    #expect(g.write(Reg.sgir, 3 << 24 | 0xF << 16 | 7).kick == 0)  // reserved
  }

  @Test func sameSGIFromTwoSourcesIsDeliveredTwice() throws {
    let g = booted()
    g.vcpu = 3; g.write(Reg.sgir, 1 << 16 | 5)
    g.vcpu = 2; g.write(Reg.sgir, 1 << 16 | 5)
    let first = try #require(g.take(0))
    #expect(first.virtualID == 5 && first.sourceCPU == 2)
    // CPU 3 is still waiting: the guest's EOI of this one must cause an exit so it can go in.
    #expect(first.eoiMaintenance)
    #expect(first.v2 >> 19 & 1 == 1)
    // One list register per SGI number at a time.
    #expect(g.take(0) == nil)
    g.complete(first, on: 0)
    #expect(g.gic.needsFlush(vcpu: 0))
    let second = try #require(g.take(0))
    #expect(second.virtualID == 5 && second.sourceCPU == 3)
    #expect(!second.eoiMaintenance)              // nobody left behind it
    g.complete(second, on: 0)
    #expect(g.take(0) == nil)
  }

  @Test func privateRegistersAreBankedPerCPU() {
    let g = booted()
    g.vcpu = 1
    g.write(Reg.isenabler, 1 << 27)
    g.write(Reg.ipriorityr + 27, 0x10, .byte)
    #expect(g.read(Reg.isenabler) >> 27 & 1 == 1)
    g.vcpu = 0
    #expect(g.read(Reg.isenabler) >> 27 & 1 == 0)
    #expect(g.read(Reg.ipriorityr + 27, .byte) == 0xA0)
  }

  @Test func hardwareTimerOnV2() throws {
    let g = booted()
    g.write(Reg.isenabler, 1 << 27)
    _ = g.injectHardware(intid: 27, vcpu: 0)
    let lr = try #require(g.take(0))
    #expect(lr.hardware && lr.physicalID == 27)
    #expect(lr.v2 >> 31 == 1 && lr.v2 >> 10 & 0x3FF == 27)
  }

  @Test func clearingLatchedHardwareThroughTheDistributor() {
    let g = booted()
    g.vcpu = 2
    _ = g.injectHardware(intid: 27, vcpu: 2)                 // PPI disabled: stays latched
    #expect(g.write(Reg.icpendr, 1 << 27).deactivateHardware == 1 << 27)
    #expect(g.read(Reg.ispendr) >> 27 & 1 == 0)
  }

  @Test func groupZeroIsEnabledByBit0() {
    // Linux's GICv2 driver leaves everything in Group 0 and sets only GICD_CTLR.Enable.
    let g = booted()
    g.enable(40)
    _ = g.setLevel(intid: 40, true)
    let lr = g.drain(0)
    #expect(lr.map(\.virtualID) == [40])
    #expect(lr.first?.group1 == false)
  }
}

@Suite struct ResidentEdgeTests {
  @Test func edgeInterruptRaisedAgainWhileResidentReachesItsTarget() throws {
    // GIC architecture: an edge interrupt that becomes pending while active is "active and pending"
    // and is signalled again as soon as the guest deactivates it. Keel kicks the target and merges
    // the new edge into the resident list register (pending+active), as KVM does.
    let g = Guest(gic: VGIC(version: .v3, affinities: fourCPUs()))
    g.linuxV3Init()
    _ = g.sendSGI(from: 0, value: 1 << 24 | 0b10)       // SGI 1 to vCPU 1
    let first = try #require(g.take(1))
    var active = first; active.state = .active
    _ = g.synced(active, vcpu: 1)
    let again = g.sendSGI(from: 2, value: 1 << 24 | 0b10)
    #expect(again.kick == 1 << 1)
    let mergedOnce = g.gic.mergeResident(active, vcpu: 1)
    let merged = try #require(mergedOnce)
    #expect(merged.state == .pendingActive)
    #expect(merged.virtualID == 1)
    // Merged once: nothing left to offer separately.
    let mergedTwice = g.gic.mergeResident(merged, vcpu: 1)
    #expect(mergedTwice == nil)
  }
}
