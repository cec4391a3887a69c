#if os(none)
import CKeelEL2
import KeelArch
import KeelTime
import KeelVGIC
import KeelVM

/// Trapped guest time (VMware US12248799): in a VM with `time.mode trapped`, CNTHCTL_EL2 traps
/// the guest's CNTPCT_EL0 and CNTP_* accesses, and Keel answers them from the VM's `GuestClock`,
/// which scales the host counter to the configured frequency and stands still while the VM is
/// paused. The guest's timer runs on the hardware EL1 physical timer, programmed with the
/// deadline converted to host counts; it fires as a hardware-linked PPI like the virtual timer.
enum TrappedTimeRegister {
  static let cntpct = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 0, op2: 1)
  static let cntpctss = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 0, op2: 5)
  static let cntpTVAL = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 2, op2: 0)
  static let cntpCTL = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 2, op2: 1)
  static let cntpCVAL = SystemRegisterEncoding(op0: 3, op1: 3, crn: 14, crm: 2, op2: 2)
}

/// Emulates a trapped counter/timer access. nil if `reg` is not one (or the VM does not run
/// trapped time), so the caller treats it as an unknown register.
func handleTrappedTime(_ v: VCPU, _ iss: SystemRegisterISS) -> TrapOutcome? {
  guard let clock = v.vm.clock else { return nil }
  let reg = iss.encoding
  let now = clock.guestCount(atHost: keel_read_cntpct_el0())
  switch reg {
  case TrappedTimeRegister.cntpct, TrappedTimeRegister.cntpctss:
    guard iss.isRead else { return nil }
    v.setGPR(iss.register, now)
  case TrappedTimeRegister.cntpCVAL:
    if iss.isRead { v.setGPR(iss.register, v.physicalTimer.readCompareValue()) }
    else { v.physicalTimer.writeCompareValue(v.gpr(iss.register)); reloadGuestTimer(v) }
  case TrappedTimeRegister.cntpTVAL:
    if iss.isRead { v.setGPR(iss.register, v.physicalTimer.readTimerValue(guestNow: now)) }
    else { v.physicalTimer.writeTimerValue(v.gpr(iss.register), guestNow: now); reloadGuestTimer(v) }
  case TrappedTimeRegister.cntpCTL:
    if iss.isRead { v.setGPR(iss.register, v.physicalTimer.readControl(guestNow: now)) }
    else { v.physicalTimer.writeControl(v.gpr(iss.register)); reloadGuestTimer(v) }
  default:
    return nil
  }
  return .advance
}

/// A guest timer's interrupt is hardware-linked: the physical one fired and waits, active, for
/// the guest's EOI. If the guest disabled or masked the timer before taking it, the interrupt
/// must stop being pending as it would on hardware (VGIC.retractHardware). The physical timer
/// line counts in both time modes: in trapped mode Keel programs it from the guest's timer.
/// Called with the devices lock held, with `v` on this CPU.
func retractSilencedTimers(_ v: VCPU) {
  var lrs = Host.gic
  if !TimerControl.asserted(keel_read_cntv_ctl_el0()) {
    v.vm.devices.interrupts.vgic.retractHardware(intid: Host.virtualTimerINTID, vcpu: v.index, inUse: &v.listRegistersInUse, lrs: &lrs)
  }
  if !TimerControl.asserted(keel_read_cntp_ctl_el0()) {
    v.vm.devices.interrupts.vgic.retractHardware(intid: Host.physicalTimerINTID, vcpu: v.index, inUse: &v.listRegistersInUse, lrs: &lrs)
  }
}

/// Program the hardware EL1 physical timer for the vCPU's guest timer (trapped mode), after a
/// guest write or after a pause moved the guest clock against the host counter.
func reloadGuestTimer(_ v: VCPU) {
  guard let clock = v.vm.clock else { return }
  if let deadline = v.physicalTimer.hostDeadline(on: clock) {
    keel_write_cntp_cval_el0(deadline)
    keel_write_cntp_ctl_el0(1)
  } else {
    keel_write_cntp_ctl_el0(0b10)      // enabled would be pointless: masked, never asserts
  }
  keel_isb()
}
#endif
