/// PAR_EL1 after an address-translation instruction (Arm ARM D17.2.112): the fault the
/// access would take, or the output address and the memory type of the combined translation.
public enum TranslationResult: Equatable, Sendable {
  case fault(FaultStatus)
  case translated(physicalAddress: UInt64, device: Bool)

  public init(par: UInt64) {
    if par & 1 == 1 {
      self = .fault(FaultStatus(rawValue: UInt8(par >> 1 & 0x3F)))
    } else {
      // ATTR (bits [63:56]) is a MAIR-style encoding: 0b0000dd00 is Device memory.
      self = .translated(physicalAddress: par & 0xF_FFFF_FFFF_F000, device: par >> 60 == 0)
    }
  }
}
