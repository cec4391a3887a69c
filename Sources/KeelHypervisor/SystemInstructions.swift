#if os(none)
import CKeelEL2
import KeelArch
import KeelVM

/// System instructions and IMPLEMENTATION DEFINED registers Keel traps and carries out for
/// the guest, so that their architectural effect is unchanged.
enum EmulatedInstruction {
  /// DC ZVA, trapped by HCR_EL2.TDZ.
  static let dcZVA = SystemRegisterEncoding(op0: 1, op1: 3, crn: 7, crm: 4, op2: 1)
  /// ACTLR_EL1, trapped by HCR_EL2.TACR: reads give the hardware's value, writes are ignored
  /// (a guest must not change the real core's auxiliary control).
  static let actlr = SystemRegisterEncoding(op0: 3, op1: 0, crn: 1, crm: 0, op2: 1)
}

/// nil if `iss` is not one of the emulated instructions.
func handleSystemInstruction(_ v: VCPU, _ iss: SystemRegisterISS) -> TrapOutcome? {
  switch iss.encoding {
  case EmulatedInstruction.dcZVA where !iss.isRead:
    let va = v.gpr(iss.register)
    let fromEL0 = ProcessorState.exceptionLevel(v.pstate) == 0
    let par = keel_translate_guest_write(va, fromEL0 ? 1 : 0)
    guard par & 1 == 0 else {
      // The guest's own translation fails: it takes the fault it would have taken natively.
      return .inject(.dataAbort(address: va, isWrite: true))
    }
    // PAR_EL1.PA is a host physical address (stage 1+2), identity-mapped at EL2. Zero the
    // naturally aligned block DCZID_EL0 gives, as DC ZVA would.
    let pa = (par & 0xFFFF_FFFF_F000) | (va & 0xFFF)
    keel_dc_zva(pa)
    return .advance
  case EmulatedInstruction.actlr:
    if iss.isRead { v.setGPR(iss.register, keel_read_actlr_el1()) }
    return .advance
  default:
    return nil
  }
}
#endif
