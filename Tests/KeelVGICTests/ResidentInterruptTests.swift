import Testing
import KeelArch
import KeelVGIC

/// Pending and active state of interrupts that sit in list registers: what the guest reads and
/// writes through the distributor and redistributor must be the list registers' state.
@Suite struct ResidentInterruptTests {
  /// The private-interrupt bit registers of vCPU 0: the GICv3 redistributor's SGI frame or the
  /// GICv2 distributor's banked word.
  func privateRead(_ m: Machine, _ offset: UInt64) -> UInt64 {
    m.guest.gic.version == .v3 ? m.guest.readR(0, Reg.sgiBase + offset) : m.guest.read(offset)
  }
  func privateWrite(_ m: Machine, _ offset: UInt64, _ value: UInt64) {
    if m.guest.gic.version == .v3 { m.guest.writeR(0, Reg.sgiBase + offset, value) } else { m.guest.write(offset, value) }
  }
  func enableTimer(_ m: Machine) {
    if m.guest.gic.version == .v3 { m.guest.enable(27, v3: 0) } else { m.guest.enable(27) }
  }
  /// A trapped access: the exit path reads the list registers back first.
  func sync(_ m: Machine) { m.guest.gic.syncResident(vcpu: 0, inUse: m.inUse, from: m.lrs) }

  /// Linux's gic_cpu_config() after kexec: the timer interrupt was acknowledged and never
  /// completed; ICACTIVER clears it and the physical interrupt must be released with it.
  @Test(arguments: [GICVersion.v3, .v2]) func clearActiveReleasesAcknowledgedHardwareInterrupt(version: GICVersion) {
    let m = Machine(version, listRegisters: 4)
    enableTimer(m)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    m.lrs.acknowledge(0)
    sync(m)
    #expect(privateRead(m, Reg.isactiver) >> 27 & 1 == 1, "acknowledged: active in its list register")
    #expect(privateRead(m, Reg.ispendr) >> 27 & 1 == 0)

    privateWrite(m, Reg.icactiver, 1 << 27)
    #expect(privateRead(m, Reg.isactiver) >> 27 & 1 == 0)
    m.flush()
    #expect(m.lrs.ids == [nil, nil, nil, nil])
    #expect(m.inUse == 0)
    #expect(m.lrs.deactivated == [27])

    // The timer fires again and is delivered again.
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    #expect(m.lrs.ids == [27, nil, nil, nil])
  }

  @Test func clearPendingEmptiesAPendingSoftwareListRegister() {
    let m = Machine(.v3, listRegisters: 4)
    m.guest.enable(40)
    _ = m.edge(40)
    m.flush()
    #expect(m.lrs.ids == [40, nil, nil, nil])
    sync(m)
    #expect(m.guest.read(Reg.ispendr + 4) >> 8 & 1 == 1)
    m.guest.write(Reg.icpendr + 4, 1 << 8)
    #expect(m.guest.read(Reg.ispendr + 4) >> 8 & 1 == 0)
    m.flush()
    #expect(m.lrs.ids == [nil, nil, nil, nil])
    #expect(m.lrs.deactivated.isEmpty)
    #expect(!m.guest.gic.hasDeliverable(vcpu: 0))
  }

  @Test func setPendingOnAnActiveListRegisterMakesItPendingAndActive() {
    let m = Machine(.v3, listRegisters: 4)
    m.guest.enable(40)
    _ = m.edge(40)
    m.flush()
    m.lrs.acknowledge(0)
    sync(m)
    m.guest.write(Reg.ispendr + 4, 1 << 8)
    m.flush()
    #expect(m.lrs.registers[0].state == .pendingActive)
  }

  /// ISACTIVER without an acknowledge: the interrupt is held until ICACTIVER, then delivered.
  @Test(arguments: [GICVersion.v3, .v2]) func setActiveHoldsDeliveryUntilCleared(version: GICVersion) {
    let m = Machine(version, listRegisters: 4)
    enableTimer(m)
    privateWrite(m, Reg.isactiver, 1 << 27)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    #expect(m.lrs.ids == [nil, nil, nil, nil])
    #expect(privateRead(m, Reg.ispendr) >> 27 & 1 == 1)
    #expect(privateRead(m, Reg.isactiver) >> 27 & 1 == 1)
    privateWrite(m, Reg.icactiver, 1 << 27)
    m.flush()
    #expect(m.lrs.ids == [27, nil, nil, nil])
    #expect(m.lrs.registers[0].hardware)
  }

  /// A write from another vCPU to an interrupt resident in vCPU 0's list register: vCPU 0 is
  /// kicked, and its next flush applies the write.
  @Test func writeFromAnotherVCPUKicksTheOwner() {
    let m = Machine(.v3, listRegisters: 4)
    m.guest.enable(40)
    _ = m.edge(40)
    m.flush()
    m.guest.vcpu = 1
    let effects = m.guest.write(Reg.icpendr + 4, 1 << 8)
    #expect(effects.kick == 1)
    m.flush(vcpu: 0)
    #expect(m.lrs.ids == [nil, nil, nil, nil])
  }

  /// The virtual timer was disabled (or masked) before the guest took its interrupt.
  @Test(arguments: [GICVersion.v3, .v2]) func retractedBeforeTheGuestTookIt(version: GICVersion) {
    let m = Machine(version, listRegisters: 4)
    enableTimer(m)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    #expect(m.hasPending)
    m.guest.gic.retractHardware(intid: 27, vcpu: 0, inUse: &m.inUse, lrs: &m.lrs)
    #expect(m.lrs.ids == [nil, nil, nil, nil])
    #expect(m.inUse == 0)
    #expect(m.lrs.deactivated == [27])
    #expect(privateRead(m, Reg.ispendr) >> 27 & 1 == 0)
    #expect(!m.guest.gic.hasDeliverable(vcpu: 0))
  }

  @Test func retractLeavesAnAcknowledgedInterruptAlone() {
    let m = Machine(.v3, listRegisters: 4)
    enableTimer(m)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.flush()
    m.lrs.acknowledge(0)
    m.guest.gic.retractHardware(intid: 27, vcpu: 0, inUse: &m.inUse, lrs: &m.lrs)
    #expect(m.lrs.registers[0].state == .active)
    #expect(m.lrs.deactivated.isEmpty)
  }

  /// Latched in the distributor (held by ISACTIVER, or no list register free), not yet resident.
  @Test func retractDropsALatchedHardwareInterrupt() {
    let m = Machine(.v3, listRegisters: 4)
    enableTimer(m)
    privateWrite(m, Reg.isactiver, 1 << 27)
    _ = m.guest.injectHardware(intid: 27, vcpu: 0)
    m.guest.gic.retractHardware(intid: 27, vcpu: 0, inUse: &m.inUse, lrs: &m.lrs)
    #expect(m.lrs.deactivated == [27])
    #expect(privateRead(m, Reg.ispendr) >> 27 & 1 == 0)
    // Nothing fired since: a second retract has nothing to release.
    m.guest.gic.retractHardware(intid: 27, vcpu: 0, inUse: &m.inUse, lrs: &m.lrs)
    #expect(m.lrs.deactivated == [27])
  }
}
