/// The list registers of the host CPU a vCPU runs on, as the vGIC needs them to move interrupts
/// in and out: the hypervisor's host GIC driver (GICv3 ICH_* system registers or the GICv2 GICH
/// frame), or plain memory in tests.
public protocol ListRegisterFile {
  /// How many list registers the virtualization extension implements (at most 64).
  var listRegisterCount: Int { get }
  func readListRegister(_ n: Int) -> ListRegister
  mutating func writeListRegister(_ n: Int, _ lr: ListRegister)
  /// Make list register `n` hold nothing (all bits zero).
  mutating func clearListRegister(_ n: Int)
  /// Bit n set: list register n holds no interrupt any more (the guest completed it), including
  /// a register whose completion waits for EOI maintenance (ELRSR | EISR).
  func emptyListRegisters() -> UInt64
  /// Called after the guest deactivated a hardware-linked interrupt by its EOI, so the physical
  /// CPU interface looks again at a level interrupt still asserted (a workaround for QEMU's GICv2).
  mutating func resampleAfterGuestDeactivation()
  /// Deactivate physical private interrupt `intid` on this CPU: the hardware-linked virtual
  /// interrupt whose EOI would have done it left the list register another way.
  mutating func deactivatePhysical(_ intid: UInt32)
  /// Ask for (or stop asking for) the underflow maintenance interrupt: at most one list register
  /// in use, so that more interrupts can be moved in.
  mutating func setUnderflowInterrupt(_ on: Bool)
}

extension VGIC {
  /// Move list-register state back into the vGIC and fill free list registers with the
  /// highest-priority pending interrupts of `vcpu`; runs before every return to the guest,
  /// under the VM's vGIC lock. `inUse` (bit n: list register n holds one of this vCPU's
  /// interrupts) is the vCPU's own record and is updated here.
  ///
  /// In order: list registers the guest is done with are read back, synced and cleared (a
  /// hardware-linked one asks the CPU interface to resample); new edges of interrupts still
  /// resident are merged into their list registers; free list registers are filled by priority;
  /// when more remain than fit, the underflow maintenance interrupt is requested (and otherwise
  /// turned off). Nothing at all is done, not even the underflow setting, when no list register
  /// is in use and the vCPU's pending set has not changed.
  public mutating func flush<L: ListRegisterFile>(vcpu: Int, inUse: inout UInt64, into lrs: inout L) {
    if inUse == 0 && !needsFlush(vcpu: vcpu) { return }
    let count = lrs.listRegisterCount
    let freed = inUse & lrs.emptyListRegisters()
    if freed != 0 {
      for n in 0..<count where freed >> UInt64(n) & 1 == 1 {
        var lr = lrs.readListRegister(n)
        if lr.hardware { lrs.resampleAfterGuestDeactivation() }
        lr.state = .invalid
        _ = listRegisterSynced(lr, vcpu: vcpu)
        lrs.clearListRegister(n)
      }
      inUse &= ~freed
    }
    var more = false
    if needsFlush(vcpu: vcpu) {
      for n in 0..<count where inUse >> UInt64(n) & 1 == 1 {
        let lr = lrs.readListRegister(n)
        if let rewritten = rewriteResident(lr, vcpu: vcpu) {
          guard rewritten.state == .invalid else { lrs.writeListRegister(n, rewritten); continue }
          lrs.clearListRegister(n)
          inUse &= ~(1 << UInt64(n))
          if lr.hardware { lrs.deactivatePhysical(lr.physicalID) }
        } else if let merged = mergeResident(lr, vcpu: vcpu) {
          lrs.writeListRegister(n, merged)
        }
      }
      for n in 0..<count where inUse >> UInt64(n) & 1 == 0 {
        guard let lr = takeNext(vcpu: vcpu) else { break }
        lrs.writeListRegister(n, lr)
        inUse |= 1 << UInt64(n)
      }
      more = needsFlush(vcpu: vcpu) && hasDeliverable(vcpu: vcpu)
    }
    // Out of list registers: ask for a maintenance interrupt when they drain.
    lrs.setUnderflowInterrupt(more)
  }

  /// Whether one of the list registers in `inUse` holds an interrupt the guest can take now
  /// (pending, or pending and active): then WFI must not sleep.
  public static func hasPendingInListRegisters<L: ListRegisterFile>(inUse: UInt64, _ lrs: L) -> Bool {
    for n in 0..<lrs.listRegisterCount where inUse >> UInt64(n) & 1 == 1 {
      let state = lrs.readListRegister(n).state
      if state == .pending || state == .pendingActive { return true }
    }
    return false
  }
}
