#if os(none)
import CKeelEL2
import KeelArch
import KeelBackdoor
import KeelVM

/// Debug-register accesses, all trapped by MDCR_EL2.TDA so that the VMware backdoor's EL0
/// `MRS XZR, MDCCSR_EL0` reaches Keel (docs/backdoor.md). Linux sets MDSCR_EL1.TDCC, which
/// would otherwise send that EL0 access to the guest kernel first: Keel keeps the guest's
/// MDSCR_EL1 in a shadow and runs the hardware with TDCC clear, and gives the guest kernel the
/// trap it asked for whenever the access is not a backdoor call.
enum DebugRegister {
  static let mdscr = SystemRegisterEncoding(op0: 2, op1: 0, crn: 0, crm: 2, op2: 2)
  static let mdccsr = SystemRegisterEncoding(op0: 2, op1: 3, crn: 0, crm: 1, op2: 0)
  static let tdcc: UInt64 = 1 << 12

  /// The debug communication channel registers EL0 may reach (MDCCSR_EL0, DBGDTR*_EL0).
  static func isDCC(_ r: SystemRegisterEncoding) -> Bool { r.op0 == 2 && r.op1 == 3 && r.crn == 0 }
}

/// nil for registers that are not debug registers.
func handleDebugRegister(_ v: VCPU, _ iss: SystemRegisterISS) -> TrapOutcome? {
  let reg = iss.encoding
  guard reg.op0 == 2 else { return nil }
  if reg == DebugRegister.mdccsr && iss.isRead && BackdoorABI.isBackdoorMarker(x7: v.gpr(7)) && runBackdoor(v) {
    return .advance
  }
  let fromEL0 = ProcessorState.exceptionLevel(v.pstate) == 0
  if DebugRegister.isDCC(reg) && fromEL0 && v.mdscrShadow & DebugRegister.tdcc != 0 {
    // What the guest kernel configured: EL0 DCC access traps to EL1 (Linux sends SIGILL).
    return .inject(.systemRegisterTrap(iss: iss.raw))
  }
  if let (kind, index) = DebugRegisterFile.decode(reg) {
    if iss.isRead {
      v.setGPR(iss.register, v.debug.read(kind, index))
    } else if let value = v.debug.write(kind, index, v.gpr(iss.register)) {
      // The vCPU is on this CPU: its breakpoint or watchpoint takes effect now.
      keel_write_debug_register(UInt32(kind.rawValue), UInt32(index), value)
      keel_isb()
    }
    return .advance
  }
  if reg == DebugRegister.mdscr {
    if iss.isRead {
      v.setGPR(iss.register, v.mdscrShadow)
    } else {
      v.mdscrShadow = v.gpr(iss.register)
      keel_write_mdscr_el1(v.mdscrShadow & ~DebugRegister.tdcc)
    }
  } else {
    // Claim tags and the other debug registers Keel does not give the guest: kept per vCPU,
    // read back as written. DCC reads as zero.
    let key = UInt32(reg.op1) << 16 | UInt32(reg.crn) << 8 | UInt32(reg.crm) << 4 | UInt32(reg.op2)
    if iss.isRead {
      v.setGPR(iss.register, DebugRegister.isDCC(reg) ? 0 : v.debugShadow[key])
    } else if !DebugRegister.isDCC(reg) {
      v.debugShadow[key] = v.gpr(iss.register)
    }
  }
  return .advance
}

extension DebugRegisterFile {
  /// Puts a vCPU's breakpoints and watchpoints into this CPU's registers (it comes on).
  func load() {
    guard touched else { return }
    for kind in Kind.allCases {
      for n in 0..<count(of: kind) { keel_write_debug_register(UInt32(kind.rawValue), UInt32(n), read(kind, n)) }
    }
    keel_isb()
  }

  /// Disarms them as the vCPU leaves, so they cannot fire in whoever runs next.
  func unload() {
    guard touched else { return }
    for n in 0..<breakpoints { keel_write_debug_register(UInt32(Kind.breakpointControl.rawValue), UInt32(n), 0) }
    for n in 0..<watchpoints { keel_write_debug_register(UInt32(Kind.watchpointControl.rawValue), UInt32(n), 0) }
    keel_isb()
  }
}
#endif
