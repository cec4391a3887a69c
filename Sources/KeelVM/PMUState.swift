/// A vCPU's PMU registers while it is off its host CPU (PMUv3, Arm ARM D13). The guest programs
/// the PMU directly (MDCR_EL2 traps none of it), so the registers are the hardware's while the
/// vCPU runs and must follow it from CPU to CPU, and nothing of one vCPU's counting may show in
/// another's.
///
/// Most vCPUs never touch the PMU: a vCPU's state is switched only once it has been seen in use
/// (`touched`), and a CPU that held such state is left with every counter disabled and zeroed.
public struct PMUState: Equatable, Sendable {
  /// PMCR_EL0 bits that hold state (E, D, X, DP, LC, LP); P and C are write-only actions.
  public static let controlMask: UInt64 = 0b1111_1001
  public var control: UInt64 = 0
  public var counterEnable: UInt64 = 0
  public var interruptEnable: UInt64 = 0
  public var overflow: UInt64 = 0
  public var select: UInt64 = 0
  public var userEnable: UInt64 = 0
  public var cycleCount: UInt64 = 0
  public var cycleFilter: UInt64 = 0
  /// PMEVTYPER<n>_EL0 and PMEVCNTR<n>_EL0 for the event counters the vCPU has (MDCR_EL2.HPMN).
  public var eventTypes: [UInt64]
  public var eventCounts: [UInt64]
  /// The vCPU has used the PMU: from now on its state is switched with it.
  public var touched = false

  public init(eventCounters: Int) {
    eventTypes = [UInt64](repeating: 0, count: eventCounters)
    eventCounts = [UInt64](repeating: 0, count: eventCounters)
  }

  public var eventCounters: Int { eventTypes.count }

  /// Whether registers read at a switch show the PMU in use: counting, able to interrupt, or
  /// holding an overflow.
  public static func inUse(control: UInt64, counterEnable: UInt64, interruptEnable: UInt64, overflow: UInt64) -> Bool {
    control & 1 != 0 || counterEnable != 0 || interruptEnable != 0 || overflow != 0
  }
}
