/// Interrupts that sit in a list register, where the hardware, not the distributor state, holds
/// their pending and active bits: the guest acknowledges, completes and deactivates them there
/// without an exit. What the guest reads from (or writes to) ISPENDR/ICPENDR/ISACTIVER/ICACTIVER
/// must still be the list register's state, as on a real GIC (IHI 0069 12.9.1, 12.9.2, 12.9.5).
///
/// - Before a trapped GIC register access, the accessing vCPU's list registers are read back
///   (`syncResident`), so reads see what the guest did since the last exit.
/// - A write to the pending or active state of a resident interrupt changes the distributor
///   state and marks the interrupt; the owner's next flush rewrites (or empties) its list
///   register (`rewriteResident`). Emptying a hardware-linked one deactivates the physical
///   interrupt, which nobody would deactivate otherwise: this is what lets Linux's
///   `gic_cpu_config()` (ICACTIVER, then the active priorities zeroed, no EOI) get its timer back.
/// - A hardware-linked interrupt whose source went quiet before the guest took it (a timer
///   disabled or masked) stops being pending (`retractHardware`), as the physical one would.
enum ResidentChange {
  case setPending, clearPending, setActive, clearActive

  init?(_ field: BitField) {
    switch field {
    case .setPending: self = .setPending
    case .clearPending: self = .clearPending
    case .setActive: self = .setActive
    case .clearActive: self = .clearActive
    default: return nil
    }
  }
}

extension VGIC {
  /// Reads the list registers of `vcpu` (loaded on this CPU) into the distributor state.
  public mutating func syncResident<L: ListRegisterFile>(vcpu: Int, inUse: UInt64, from lrs: L) {
    for n in 0..<lrs.listRegisterCount where inUse >> UInt64(n) & 1 == 1 {
      let lr = lrs.readListRegister(n)
      let i = Int(lr.virtualID)
      guard lr.state != .invalid, isValid(i) else { continue }
      let index = i < 32 ? vcpu * 32 + i : i - 32
      func fold(_ s: inout InterruptState) {
        guard s.inListRegister, !s.residentChanged else { return }
        s.residentPending = lr.state == .pending || lr.state == .pendingActive
        s.active = lr.state == .active || lr.state == .pendingActive
      }
      if i < 32 { fold(&privateIRQs[index]) } else { fold(&spis[index]) }
    }
  }

  mutating func changeResident(_ i: Int, _ vcpu: Int, _ change: ResidentChange) -> VGICEffects {
    var effects = VGICEffects()
    let owner = state(i, vcpu).owner
    _ = update(i, vcpu) { s in
      switch change {
      case .setPending: s.residentPending = true
      case .clearPending: s.residentPending = false; s.pendingLatch = false; s.sgiSources = 0
      case .setActive: s.active = true
      case .clearActive: s.active = false
      }
      s.residentChanged = true
    }
    dirty[owner] = true
    effects.kick |= 1 << UInt64(owner)
    return effects
  }

  /// The list register the guest's writes call for, or nil to leave it; `.invalid` empties it.
  mutating func rewriteResident(_ lr: ListRegister, vcpu: Int) -> ListRegister? {
    let i = Int(lr.virtualID)
    guard lr.state != .invalid, isValid(i), state(i, vcpu).residentChanged else { return nil }
    let s = state(i, vcpu)
    var updated = lr
    switch (s.residentPending, s.active) {
    case (false, false): updated.state = .invalid
    case (true, false): updated.state = .pending
    case (false, true): updated.state = .active
    // A hardware-linked list register cannot be pending and active (IHI 0069 12.4.6): the
    // pending part waits in the distributor until the active one is deactivated.
    case (true, true): updated.state = lr.hardware ? .active : .pendingActive
    }
    _ = update(i, vcpu) { s in
      s.residentChanged = false
      if lr.hardware && s.residentPending && s.active { s.pendingLatch = true }
      if updated.state == .invalid {
        s.inListRegister = false
        s.residentPending = false
        if lr.hardware { s.hardware = s.pendingLatch }
      }
    }
    return updated
  }

  /// The source of hardware-linked private interrupt `intid` of `vcpu` (loaded on this CPU)
  /// is no longer asserted. If the guest has not taken the interrupt yet, it stops being
  /// pending, and the physical interrupt the host left active for the guest is deactivated.
  public mutating func retractHardware<L: ListRegisterFile>(intid: UInt32, vcpu: Int, inUse: inout UInt64, lrs: inout L) {
    let i = Int(intid)
    guard i < 32, vcpu < vcpuCount else { return }
    let s = state(i, vcpu)
    guard s.hardware else { return }
    if s.inListRegister {
      for n in 0..<lrs.listRegisterCount where inUse >> UInt64(n) & 1 == 1 {
        let lr = lrs.readListRegister(n)
        guard lr.virtualID == intid, lr.hardware else { continue }
        guard lr.state == .pending else { return }
        lrs.clearListRegister(n)
        inUse &= ~(1 << UInt64(n))
        lrs.deactivatePhysical(lr.physicalID)
        break
      }
    } else if !s.pendingLatch {
      return
    } else {
      lrs.deactivatePhysical(intid)
    }
    _ = update(i, vcpu) { s in
      s.inListRegister = false
      s.residentPending = false
      s.pendingLatch = false
      s.hardware = false
    }
  }
}
