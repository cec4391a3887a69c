import KeelPSCI

/// How late a sleeping vCPU's timer wake-up may be, by how deeply it sleeps: WFI is a light
/// sleep, PSCI CPU_SUSPEND standby a deeper one, powerdown the deepest. Slack lets one host
/// timer event serve several deadlines.
public struct SleepSlack: Equatable, Sendable {
  public var wfi: UInt64
  public var standby: UInt64
  public var powerdown: UInt64

  public init(ticksPerSecond hz: UInt64) {
    wfi = hz / 20_000         // 50 µs
    standby = hz / 2_000      // 500 µs
    powerdown = hz / 200      // 5 ms
  }

  /// A granted CPU_SUSPEND: the vCPU sleeps with its state's slack; from a powerdown state it
  /// wakes at `entry` with `context`, its context lost.
  public func suspend(_ request: SuspendRequest, entry: UInt64, context: UInt64) -> TrapOutcome {
    request.isPowerdown ? .suspendPowerdown(entry: entry, context: context, slack: powerdown) : .wait(advance: false, slack: standby)
  }
}
