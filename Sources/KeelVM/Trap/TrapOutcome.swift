/// What an exit handler decided: how the vCPU goes on. Handlers return one and never move the
/// PC themselves; the trap path applies it in one place (`advance` steps over the trapping
/// instruction by the length the syndrome gives).
public enum TrapOutcome: Equatable, Sendable {
  /// Emulated: resume after the trapping instruction (MMIO, system registers, trapped SMC).
  case advance
  /// Resume at the PC as it is (an HVC: the exception already returns past it).
  case resume
  /// The guest takes this exception at the trapping instruction.
  case inject(GuestException)
  /// Wait for an interrupt (WFI, PSCI CPU_SUSPEND), for at most the vCPU's timer deadlines
  /// plus `slack` host ticks; `advance` as above.
  case wait(advance: Bool, slack: UInt64)
  /// PSCI CPU_SUSPEND to a powerdown state: the context is lost, so the vCPU wakes at `entry`
  /// with x0 = `context`, as from CPU_ON.
  case suspendPowerdown(entry: UInt64, context: UInt64, slack: UInt64)
  /// WFE: resume after it, giving the CPU away if others wait for it.
  case yield
  /// The vCPU leaves its CPU for good: CPU_OFF, or its VM stops or reboots.
  case leave

  /// The PSCI/SMCCC conduit a call came through decides how its outcome resumes: an HVC already
  /// returns past itself, a trapped SMC returns to itself and must be stepped over.
  public func throughSMC() -> TrapOutcome {
    switch self {
    case .resume: return .advance
    case .wait(_, let slack): return .wait(advance: true, slack: slack)
    default: return self
    }
  }
}
