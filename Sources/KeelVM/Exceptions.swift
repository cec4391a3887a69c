import KeelArch

/// An exception Keel makes the guest take, as the architecture would have delivered it.
public enum GuestException: Equatable, Sendable {
  /// Synchronous external abort on a data access (no device or RAM there, or no syndrome to emulate it).
  case dataAbort(address: UInt64, isWrite: Bool)
  /// A data abort with the fault the access itself would have taken natively (alignment,
  /// or the guest's own translation or permission fault).
  case dataFault(address: UInt64, isWrite: Bool, status: FaultStatus)
  /// Synchronous external abort on an instruction fetch.
  case instructionAbort(address: UInt64)
  /// Undefined instruction: an unknown or forbidden system register, an unsupported call.
  case undefined
  /// The trapped MSR/MRS the guest's own configuration routes to EL1 (for example an EL0 access
  /// to the debug communication channel while the guest's MDSCR_EL1.TDCC is set), as if Keel
  /// had not intercepted it first.
  case systemRegisterTrap(iss: UInt32)
}

/// The EL1 register values that deliver a `GuestException` (Arm ARM D1.10, "Exception entry").
public struct ExceptionEntry: Equatable, Sendable {
  public var pc: UInt64
  public var pstate: UInt64
  public var elrEL1: UInt64
  public var spsrEL1: UInt64
  public var esrEL1: UInt64
  public var farEL1: UInt64?

  /// - Parameters: `pc`/`pstate` of the faulting instruction (ELR_EL2/SPSR_EL2), VBAR_EL1.
  public init(_ exception: GuestException, pc: UInt64, pstate: UInt64, vbar: UInt64) {
    let fromEL0 = ProcessorState.exceptionLevel(pstate) == 0
    let vectorOffset: UInt64 = fromEL0 ? 0x400 : (ProcessorState.usesSPx(pstate) ? 0x200 : 0)
    let il: UInt64 = 1 << 25
    switch exception {
    case .dataAbort(let address, let isWrite):
      let ec: UInt64 = fromEL0 ? 0x24 : 0x25
      esrEL1 = ec << 26 | il | (isWrite ? 1 << 6 : 0) | UInt64(FaultStatus.synchronousExternalAbort.rawValue)
      farEL1 = address
    case .dataFault(let address, let isWrite, let status):
      let ec: UInt64 = fromEL0 ? 0x24 : 0x25
      esrEL1 = ec << 26 | il | (isWrite ? 1 << 6 : 0) | UInt64(status.rawValue)
      farEL1 = address
    case .instructionAbort(let address):
      let ec: UInt64 = fromEL0 ? 0x20 : 0x21
      esrEL1 = ec << 26 | il | UInt64(FaultStatus.synchronousExternalAbort.rawValue)
      farEL1 = address
    case .undefined:
      esrEL1 = il
      farEL1 = nil
    case .systemRegisterTrap(let iss):
      esrEL1 = 0x18 << 26 | il | UInt64(iss & 0x1FF_FFFF)
      farEL1 = nil
    }
    self.pc = vbar & ~0x7FF | vectorOffset
    self.pstate = ProcessorState.el1hMasked
    elrEL1 = pc
    spsrEL1 = pstate
  }
}
