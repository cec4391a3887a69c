/// ESXi `sched.cpu.shares`: a level or an explicit number.
public enum Shares: Equatable, Sendable {
  case low, normal, high
  case custom(UInt32)

  /// ESXi values: a VM gets 500/1000/2000 per vCPU; a resource pool gets 2000/4000/8000
  /// (the value of a 4-vCPU VM), so a pool with normal shares weighs like a normal 4-vCPU VM.
  public func value(forVCPUs vcpus: Int) -> UInt32 {
    switch self {
    case .low: return 500 * UInt32(vcpus)
    case .normal: return 1000 * UInt32(vcpus)
    case .high: return 2000 * UInt32(vcpus)
    case .custom(let value): return value
    }
  }

  public var groupValue: UInt32 { value(forVCPUs: 4) }

  /// ESXi allows custom shares up to 1,000,000; the bound also keeps fixed-point products in 64 bits.
  public static let maximumCustom: UInt32 = 1_000_000
}

/// ESXi `sched.cpu.shares` / `sched.cpu.min` / `sched.cpu.max`, with CPU amounts in MHz-equivalent.
public struct CPUAllocation: Equatable, Sendable {
  public var shares: Shares
  /// Reservation: guaranteed when demanded, even under contention. 0 means none.
  public var minMHz: UInt32
  /// Limit: never exceeded, even on an idle host. nil means unlimited.
  public var maxMHz: UInt32?

  public init(shares: Shares = .normal, minMHz: UInt32 = 0, maxMHz: UInt32? = nil) {
    self.shares = shares
    self.minMHz = minMHz
    self.maxMHz = maxMHz
  }
}

/// A resource group (ESXi resource pool). A group without parent is the root of a virtual host:
/// roots compete with each other for the whole machine by their own shares/min/max.
public struct ResourceGroupSpec: Equatable, Sendable {
  public var name: String
  public var parent: GroupID?
  public var allocation: CPUAllocation
  /// ESXi "expandable reservation": children may reserve more than the group's own `min`,
  /// borrowing from the ancestors. When false, the children's reservations must fit in `min`.
  public var expandableReservation: Bool

  public init(name: String, parent: GroupID?, allocation: CPUAllocation = CPUAllocation(),
              expandableReservation: Bool = true) {
    self.name = name
    self.parent = parent
    self.allocation = allocation
    self.expandableReservation = expandableReservation
  }
}

public struct VMSpec: Equatable, Sendable {
  public var name: String
  public var group: GroupID
  public var vcpuCount: Int
  public var allocation: CPUAllocation

  public init(name: String, group: GroupID, vcpuCount: Int, allocation: CPUAllocation = CPUAllocation()) {
    self.name = name
    self.group = group
    self.vcpuCount = vcpuCount
    self.allocation = allocation
  }
}

/// Policy knobs, all in host counter ticks.
public struct SchedulerTuning: Equatable, Sendable {
  /// Length of a full time slice.
  public var timeSlice: UInt64
  /// No slice is shorter than this (limits the timer interrupt rate when a budget is nearly spent).
  public var minimumSlice: UInt64
  /// Limits are token buckets refilled every period; the bucket holds at most one period's quota,
  /// so an idle capped VM cannot save up a burst.
  public var limitPeriod: UInt64
  /// A waking vCPU's virtual time is raised to at least (system virtual time - credit), so a long
  /// sleep earns at most this much priority and cannot starve others.
  public var sleeperCredit: UInt64
  /// A waking vCPU preempts a running one only if it is behind by more than this (in virtual time).
  public var wakeupGranularity: UInt64
  /// Virtual-time handicap of a vCPU on a CPU other than the one it last ran on: a bounded
  /// unfairness that keeps vCPUs on warm caches instead of migrating at every slice.
  public var affinityBonus: UInt64
  /// Reservations are served this many per-mille above their nominal value, so that the
  /// quantisation of time slices (up to one slice per measuring window) never shows as a
  /// reservation shortfall. Taken from unreserved capacity only when there is some.
  public var reservationHeadroomPerMille: UInt32

  public init(timeSlice: UInt64, minimumSlice: UInt64, limitPeriod: UInt64, sleeperCredit: UInt64,
              wakeupGranularity: UInt64, affinityBonus: UInt64, reservationHeadroomPerMille: UInt32 = 10) {
    self.timeSlice = timeSlice
    self.minimumSlice = minimumSlice
    self.limitPeriod = limitPeriod
    self.sleeperCredit = sleeperCredit
    self.wakeupGranularity = wakeupGranularity
    self.affinityBonus = affinityBonus
    self.reservationHeadroomPerMille = reservationHeadroomPerMille
  }

  /// 4 ms slices, 100 µs minimum, 20 ms limit period, 2 ms sleeper credit, 0.5 ms wakeup
  /// granularity, 8 ms affinity bonus (the virtual time of one slice of a half-CPU vCPU), 1% reservation headroom.
  public static func defaults(ticksPerSecond: UInt64) -> SchedulerTuning {
    let us = max(ticksPerSecond / 1_000_000, 1)
    let ms = max(ticksPerSecond / 1_000, 1)
    return SchedulerTuning(timeSlice: 4 * ms, minimumSlice: 100 * us, limitPeriod: 20 * ms,
                           sleeperCredit: 2 * ms, wakeupGranularity: ms / 2, affinityBonus: 8 * ms)
  }

  /// What the hypervisor runs: 20 ms slices and a 100 ms limit period, the rest as `defaults`.
  ///
  /// Slices: every time a vCPU comes onto a CPU after another VM's, it pays a fixed cost that
  /// is charged to it (its VM's TLB entries are gone: QEMU flushes them when VTTBR_EL2
  /// changes; ≈1 ms per switch-in measured here). Two VMs sharing a CPU switch in equally often
  /// whatever their shares, so that cost eats more of the smaller VM's time the shorter the
  /// slices: with 4 ms, shares of 2:1 bought work 2.36–2.44:1 (bench/shares-work.sh), with
  /// 12 ms 2.12–2.18:1, with 20 ms 2.12:1. Wake-ups still preempt (`sleeperCredit`, `wakeupGranularity`), so an
  /// interactive vCPU does not wait for a slice to end.
  ///
  /// Limit period: with a period of barely more than one slice, a group's budget is spent in
  /// whole slices, and a reservation inside a capped group fell to 0.51 of its 0.6 (system test
  /// "a min holds under contention"); five slices per period keep it at 0.6 (0.603 measured).
  public static func hypervisor(ticksPerSecond: UInt64) -> SchedulerTuning {
    let ms = max(ticksPerSecond / 1_000, 1)
    var tuning = defaults(ticksPerSecond: ticksPerSecond)
    tuning.timeSlice = 20 * ms
    tuning.limitPeriod = 100 * ms
    return tuning
  }
}

public struct SchedulerConfiguration: Equatable, Sendable {
  public var hostCPUCount: Int
  /// Capacity of one host CPU in MHz-equivalent; `min`/`max` are fractions of it.
  public var mhzPerCPU: UInt32
  /// Frequency of the host counter (CNTFRQ_EL0) that all times are measured in.
  public var ticksPerSecond: UInt64
  public var groups: [ResourceGroupSpec]
  public var vms: [VMSpec]
  public var tuning: SchedulerTuning

  public init(hostCPUCount: Int, mhzPerCPU: UInt32, ticksPerSecond: UInt64,
              groups: [ResourceGroupSpec], vms: [VMSpec], tuning: SchedulerTuning? = nil) {
    self.hostCPUCount = hostCPUCount
    self.mhzPerCPU = mhzPerCPU
    self.ticksPerSecond = ticksPerSecond
    self.groups = groups
    self.vms = vms
    self.tuning = tuning ?? .defaults(ticksPerSecond: ticksPerSecond)
  }

  public var capacityMHz: UInt64 { UInt64(hostCPUCount) * UInt64(mhzPerCPU) }
  public static let maximumHostCPUs = 64
  public static let maximumVCPUsPerVM = 8
}
