#if os(none)
import CKeelEL2
import KeelFDT
import KeelVGIC
import KeelArch

/// Interrupts Keel itself uses on the physical GIC.
enum HostINTID {
  /// SGI 0 wakes or interrupts another host CPU ("kick"): it has new virtual interrupts or a
  /// vCPU to start or stop.
  static let kick: UInt32 = 0
  static let spurious: UInt32 = 1023
}

/// A vCPU's virtual CPU interface while it is not on a host CPU, in the raw register format
/// of the host's GIC version.
struct VirtualInterfaceState {
  var vmcr: UInt64 = 0
  /// Group 0 registers at 0..<4, group 1 at 4..<8 (GICv2: one register, at 0).
  var activePriorities = [UInt32](repeating: 0, count: 8)
  var listRegisters = [UInt64](repeating: 0, count: 16)
}

/// The physical GIC as the hypervisor drives it: its own interrupts in EOImode 1 (priority drop
/// and deactivation split, so a hardware-linked virtual interrupt is deactivated by the guest's
/// own EOI), and the list registers of the virtualization extension.
struct HostGICDriver: ListRegisterFile {
  let version: GICVersion
  let distributor: UInt64
  /// v3: RD_base of each host CPU, in slot order. A pointer, not an array: the driver is then
  /// trivially copyable, and a copy (the vGIC takes its list-register file by value) touches
  /// no reference count.
  let redistributors: UnsafePointer<UInt64>
  let cpuInterface: UInt64          // v2 GICC
  let hypervisorInterface: UInt64   // v2 GICH
  let maintenanceINTID: UInt32
  let listRegisterCount: Int

  static func make(_ gic: HostGIC, cpus: [UInt64]) -> HostGICDriver? {
    switch gic.version {
    case .v3:
      let regions = gic.redistributors.map { (base: $0.base, size: $0.size) }
      let frames = HostGICEncoding.redistributorFrames(regions: regions, cpus: cpus) { MMIO.read64($0 + 0x8) }
      let lrs = HostGICEncoding.listRegisterCount(vtr: keel_read_ich_vtr_el2(), version: .v3)
      let table = UnsafeMutablePointer<UInt64>.allocate(capacity: max(frames.count, 1))
      for (slot, frame) in frames.enumerated() { table[slot] = frame }
      return HostGICDriver(version: .v3, distributor: gic.distributor.base, redistributors: UnsafePointer(table), cpuInterface: 0,
                           hypervisorInterface: 0, maintenanceINTID: gic.maintenanceINTID ?? 25, listRegisterCount: lrs)
    case .v2:
      guard let gicc = gic.cpuInterface, let gich = gic.hypervisorInterface else { return nil }
      let lrs = HostGICEncoding.listRegisterCount(vtr: UInt64(MMIO.read32(gich.base + 0x4)), version: .v2)
      let none = UnsafePointer(UnsafeMutablePointer<UInt64>.allocate(capacity: 1))
      return HostGICDriver(version: .v2, distributor: gic.distributor.base, redistributors: none, cpuInterface: gicc.base,
                           hypervisorInterface: gich.base, maintenanceINTID: gic.maintenanceINTID ?? 25, listRegisterCount: lrs)
    }
  }

  /// Once, on the boot CPU.
  func initDistributor() {
    switch version {
    case .v3:
      MMIO.write32(distributor, 0)
      waitForRWP()
      // Group 1, enabled, affinity routing.
      MMIO.write32(distributor, 1 << 1 | 1 << 4)
      waitForRWP()
    case .v2:
      MMIO.write32(distributor, 1)
    }
  }

  private func waitForRWP() {
    while MMIO.read32(distributor) & (1 << 31) != 0 { keel_yield() }
  }

  /// On every host CPU, for itself.
  func initCPU(slot: Int, timers: [UInt32]) {
    let ppis = HostGICEncoding.privateMask([HostINTID.kick, maintenanceINTID] + timers)
    switch version {
    case .v3:
      let rd = redistributors[slot]
      // Wake the redistributor.
      MMIO.write32(rd + 0x14, MMIO.read32(rd + 0x14) & ~UInt32(1 << 1))
      while MMIO.read32(rd + 0x14) & (1 << 2) != 0 { keel_yield() }
      let sgi = rd + 0x10000
      MMIO.write32(sgi + 0x80, 0xFFFF_FFFF)          // all group 1
      MMIO.write32(sgi + 0x180, 0xFFFF_FFFF)         // disable all, then enable ours
      for i in 0..<8 { MMIO.write32(sgi + 0x400 + UInt64(i) * 4, 0xA0A0_A0A0) }
      MMIO.write32(sgi + 0x100, ppis)
      keel_write_icc_sre_el2(0xF)                   // SRE, DFB, DIB, and EL1 may use ICC_SRE_EL1
      keel_isb()
      keel_write_icc_pmr_el1(0xFF)
      keel_write_icc_bpr1_el1(0)
      keel_write_icc_ctlr_el1(1 << 1)              // EOImode: EOIR drops priority, DIR deactivates
      keel_write_icc_igrpen1_el1(1)
      keel_isb()
    case .v2:
      for i in 0..<8 { MMIO.write32(distributor + 0x400 + UInt64(i) * 4, 0xA0A0_A0A0) }
      MMIO.write32(distributor + 0x100, ppis)
      MMIO.write32(cpuInterface + 0x4, 0xFF)       // PMR
      MMIO.write32(cpuInterface + 0x0, 1 | 1 << 9)  // enable, EOImode
    }
  }

  /// Deactivate private interrupts of the calling CPU (slot) that a guest may have left active.
  func deactivatePrivate(_ intids: [UInt32], slot: Int) {
    let mask = HostGICEncoding.privateMask(intids)
    switch version {
    case .v3: MMIO.write32(redistributors[slot] + 0x10000 + 0x380, mask)
    case .v2: MMIO.write32(distributor + 0x380, mask)
    }
  }

  /// Which of `intids` (private interrupts) are active on the calling CPU; clears them. A vCPU
  /// that leaves a host CPU takes the active state of its hardware-linked timer interrupt along,
  /// so its EOI still deactivates it wherever it runs next.
  func takeActivePrivate(_ intids: [UInt32], slot: Int) -> UInt32 {
    let mask = HostGICEncoding.privateMask(intids)
    let active: UInt32
    switch version {
    case .v3: active = MMIO.read32(redistributors[slot] + 0x10000 + 0x300) & mask
    case .v2: active = MMIO.read32(distributor + 0x300) & mask
    }
    if active != 0 { deactivatePrivate(intids, slot: slot) }
    return active
  }

  /// Marks private interrupts active on the calling CPU (the counterpart of `takeActivePrivate`).
  func activatePrivate(_ mask: UInt32, slot: Int) {
    guard mask != 0 else { return }
    switch version {
    case .v3: MMIO.write32(redistributors[slot] + 0x10000 + 0x300, mask)
    case .v2: MMIO.write32(distributor + 0x300, mask)
    }
  }

  /// The GICv2 CPU-interface number of the calling CPU (from the banked ITARGETSR0).
  func cpuInterfaceMask() -> UInt8 {
    version == .v2 ? UInt8(truncatingIfNeeded: MMIO.read32(distributor + 0x800)) : 0
  }

  /// Route a host SPI to one host CPU and enable it.
  func enableSPI(_ intid: UInt32, toCPU mpidr: UInt64, cpuMask: UInt8) {
    let word = HostGICEncoding.bitField(intid)
    // GICD_IGROUPR (v3: group 1), GICD_IROUTER or ITARGETSR, GICD_IPRIORITYR, GICD_ISENABLER.
    switch version {
    case .v3:
      MMIO.write64(distributor + 0x6000 + UInt64(intid) * 8, HostGICEncoding.irouter(mpidr: mpidr))
      MMIO.write32(distributor + 0x80 + word.offset, MMIO.read32(distributor + 0x80 + word.offset) | word.bit)
    case .v2:
      setByte(intid, of: distributor + 0x800, to: cpuMask)
    }
    setByte(intid, of: distributor + 0x400, to: 0xA0)
    MMIO.write32(distributor + 0x100 + word.offset, word.bit)
  }

  private func setByte(_ intid: UInt32, of block: UInt64, to byte: UInt8) {
    let field = HostGICEncoding.byteField(intid, in: MMIO.read32(block + UInt64(intid & ~3)), set: byte)
    MMIO.write32(block + field.offset, field.word)
  }

  func acknowledge() -> UInt32 {
    switch version {
    case .v3: return UInt32(truncatingIfNeeded: keel_read_icc_iar1_el1()) & 0xFF_FFFF
    case .v2: return MMIO.read32(cpuInterface + 0xC)
    }
  }

  /// Priority drop only; the interrupt stays active.
  func endOfInterrupt(_ iar: UInt32) {
    switch version {
    case .v3: keel_write_icc_eoir1_el1(UInt64(iar))
    case .v2: MMIO.write32(cpuInterface + 0x10, iar)
    }
  }

  func deactivate(_ iar: UInt32) {
    switch version {
    case .v3: keel_write_icc_dir_el1(UInt64(iar))
    case .v2: MMIO.write32(cpuInterface + 0x1000, iar)
    }
  }

  func sendKick(toMPIDR mpidr: UInt64, cpuMask: UInt8) {
    switch version {
    case .v3:
      keel_dsb_ish()
      keel_write_icc_sgi1r_el1(HostGICEncoding.sgi1r(intid: HostINTID.kick, toMPIDR: mpidr))
      keel_isb()
    case .v2:
      keel_dsb_ish()
      MMIO.write32(distributor + 0xF00, HostGICEncoding.sgir(intid: HostINTID.kick, cpuMask: cpuMask))
    }
  }

  /// QEMU 7.2's GICv2 deactivates a hardware-linked interrupt on the guest's EOI without
  /// re-evaluating the physical CPU interface, so a level interrupt still asserted at that moment
  /// stays pending but unsignalled and WFI never wakes. Rewriting PMR (same value) makes it look
  /// again. Harmless on hardware; a no-op for GICv3, whose model does not have the problem.
  // The list-register file's operations are inlined into the vGIC's generic flush: called,
  // each would copy the driver (56 bytes, through memcpy at EL2) to pass it.
  @inline(__always)
  func resampleAfterGuestDeactivation() {
    if version == .v2 { MMIO.write32(cpuInterface + 0x4, 0xFF) }
  }

  @inline(__always)
  func deactivatePhysical(_ intid: UInt32) { deactivate(intid) }

  // MARK: Virtualization control

  var activePriorityRegisters: Int {
    HostGICEncoding.activePriorityRegisterCount(vtr: version == .v3 ? keel_read_ich_vtr_el2() : 0, version: version)
  }

  /// Loads a vCPU's virtual CPU interface (VMCR, active priorities, list registers) and enables it.
  func restoreVirtualInterface(_ state: VirtualInterfaceState) {
    switch version {
    case .v3:
      keel_write_ich_vmcr_el2(state.vmcr)
      for n in 0..<activePriorityRegisters {
        keel_write_ich_apr(0, UInt32(n), UInt64(state.activePriorities[n]))
        keel_write_ich_apr(1, UInt32(n), UInt64(state.activePriorities[4 + n]))
      }
      for n in 0..<listRegisterCount { keel_write_ich_lr(UInt32(n), state.listRegisters[n]) }
      keel_write_ich_hcr_el2(1)
    case .v2:
      MMIO.write32(hypervisorInterface + 0x8, UInt32(truncatingIfNeeded: state.vmcr))
      MMIO.write32(hypervisorInterface + 0xF0, state.activePriorities[0])
      for n in 0..<listRegisterCount {
        MMIO.write32(hypervisorInterface + 0x100 + UInt64(n) * 4, UInt32(truncatingIfNeeded: state.listRegisters[n]))
      }
      MMIO.write32(hypervisorInterface, 1)
    }
    keel_isb()
  }

  /// Saves the loaded vCPU's virtual CPU interface (list registers in `inUse` only) and disables it.
  func saveVirtualInterface(_ state: inout VirtualInterfaceState, inUse: UInt64) {
    switch version {
    case .v3:
      state.vmcr = keel_read_ich_vmcr_el2()
      for n in 0..<activePriorityRegisters {
        state.activePriorities[n] = UInt32(truncatingIfNeeded: keel_read_ich_apr(0, UInt32(n)))
        state.activePriorities[4 + n] = UInt32(truncatingIfNeeded: keel_read_ich_apr(1, UInt32(n)))
      }
      for n in 0..<listRegisterCount { state.listRegisters[n] = inUse >> UInt64(n) & 1 == 1 ? keel_read_ich_lr(UInt32(n)) : 0 }
      keel_write_ich_hcr_el2(0)
    case .v2:
      state.vmcr = UInt64(MMIO.read32(hypervisorInterface + 0x8))
      state.activePriorities[0] = MMIO.read32(hypervisorInterface + 0xF0)
      for n in 0..<listRegisterCount {
        state.listRegisters[n] = inUse >> UInt64(n) & 1 == 1 ? UInt64(MMIO.read32(hypervisorInterface + 0x100 + UInt64(n) * 4)) : 0
      }
      MMIO.write32(hypervisorInterface, 0)
    }
    keel_isb()
  }

  @inline(__always)
  func setUnderflowInterrupt(_ on: Bool) {
    switch version {
    case .v3: keel_write_ich_hcr_el2(on ? 0b11 : 0b01)
    case .v2: MMIO.write32(hypervisorInterface, on ? 0b11 : 0b01)
    }
  }

  /// Bit n set: list register n holds no interrupt any more. ELRSR alone is not enough: a
  /// register whose interrupt the guest completed while it asked for EOI maintenance is not
  /// "empty" until that maintenance is serviced (it shows in EISR instead), and leaving it would
  /// keep the maintenance interrupt asserted for ever.
  @inline(__always)
  func emptyListRegisters() -> UInt64 {
    switch version {
    case .v3: return keel_read_ich_elrsr_el2() | keel_read_ich_eisr_el2()
    case .v2: return UInt64(MMIO.read32(hypervisorInterface + 0x30)) | UInt64(MMIO.read32(hypervisorInterface + 0x20))
    }
  }

  @inline(__always)
  func readListRegister(_ n: Int) -> ListRegister {
    switch version {
    case .v3: return ListRegister(v3: keel_read_ich_lr(UInt32(n)))
    case .v2: return ListRegister(v2: MMIO.read32(hypervisorInterface + 0x100 + UInt64(n) * 4))
    }
  }

  @inline(__always)
  func writeListRegister(_ n: Int, _ lr: ListRegister) {
    switch version {
    case .v3: keel_write_ich_lr(UInt32(n), lr.v3)
    case .v2: MMIO.write32(hypervisorInterface + 0x100 + UInt64(n) * 4, lr.v2)
    }
  }

  @inline(__always)
  func clearListRegister(_ n: Int) {
    switch version {
    case .v3: keel_write_ich_lr(UInt32(n), 0)
    case .v2: MMIO.write32(hypervisorInterface + 0x100 + UInt64(n) * 4, 0)
    }
  }
}
#endif
