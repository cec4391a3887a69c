import KeelArch

/// A synchronous exit from a guest, by what the hypervisor does about it (from ESR_EL2).
public enum SynchronousExit: Equatable, Sendable {
  case dataAbort
  /// HVC and its immediate: #0 is PSCI/SMCCC, #0x86 the backdoor's EL1 form.
  case hvc(immediate: UInt16)
  case smc
  case systemRegister
  case wfi
  case wfe
  case instructionAbort
  /// Nothing Keel emulates: the guest gets an undefined instruction.
  case unhandled(ExceptionClass)

  // Inlined: it runs on every exit, and a call and an enum with payloads cost the null
  // hypercall instructions bench/traps.sh counts.
  @inline(__always)
  public init(_ esr: ExceptionSyndrome) {
    switch esr.exceptionClass {
    case .dataAbortLowerEL: self = .dataAbort
    case .hvc64: self = .hvc(immediate: UInt16(truncatingIfNeeded: esr.iss))
    case .smc64: self = .smc
    case .systemRegister: self = .systemRegister
    case .waitForInterrupt: self = esr.iss & 1 == 1 ? .wfe : .wfi
    case .instructionAbortLowerEL: self = .instructionAbort
    default: self = .unhandled(esr.exceptionClass)
    }
  }
}

extension ExitCounters {
  /// Counts one exit. A data abort is not counted here but once decoded, by what it hit
  /// (`countDataAbort`).
  @inline(__always)
  public mutating func count(_ exit: SynchronousExit) {
    switch exit {
    case .dataAbort: break
    case .hvc: hvc += 1
    case .smc: smc += 1
    case .systemRegister: systemRegister += 1
    case .wfi: wfi += 1
    case .wfe: wfe += 1
    case .instructionAbort, .unhandled: other += 1
    }
  }
}
