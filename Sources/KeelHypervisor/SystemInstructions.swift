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
    switch TranslationResult(par: keel_translate_guest_write(va, fromEL0 ? 1 : 0)) {
    case .fault(let status):
      // The guest's own translation fails: it takes the fault it would have taken natively.
      return .inject(.dataFault(address: va, isWrite: true, status: status))
    case .translated(_, device: true):
      // DC ZVA to Device memory (all of it with the guest's MMU off, and whatever stage 2 maps
      // as Device, like a GICv2 guest's CPU interface) is an alignment fault (Arm ARM C6.2.80).
      return .inject(.dataFault(address: va, isWrite: true, status: .alignmentFault))
    case .translated(let page, device: false):
      // A host physical address (stage 1+2), identity-mapped at EL2. Zero the naturally
      // aligned block DCZID_EL0 gives, as DC ZVA would.
      keel_dc_zva(page | (va & 0xFFF))
      return .advance
    }
  case EmulatedInstruction.actlr:
    if iss.isRead { v.setGPR(iss.register, keel_read_actlr_el1()) }
    return .advance
  default:
    return nil
  }
}
#endif
