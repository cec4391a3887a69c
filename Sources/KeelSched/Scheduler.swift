/// Scheduling state of one vCPU as the policy sees it.
public enum VCPUState: Equatable, Sendable {
  /// Powered off (never started, PSCI CPU_OFF, or the VM stopped): costs nothing.
  case off
  /// Wants a host CPU and is waiting for one (or is throttled by a limit).
  case runnable
  case running(HostCPUID)
  /// Waiting for an interrupt (WFI/WFE, PSCI CPU_SUSPEND); `until` is its timer deadline, if any.
  case blocked(until: UInt64?)

  public var isBlocked: Bool {
    if case .blocked = self { return true }
    return false
  }
}

/// A decision of `pickNext`: run `vcpu` for at most `slice` ticks.
public struct Dispatch: Equatable, Sendable {
  public var vcpu: VCPUID
  public var slice: UInt64
  /// Set when the vCPU last ran on another host CPU, so the shell can do migration work
  /// (vGIC redistributor state, TLB maintenance for the VMID on the new CPU).
  public var migratedFrom: HostCPUID?
}

/// A runnable vCPU that should move to an idle host CPU; the shell kicks `to` (IPI).
/// `from == to` means the vCPU already belongs to that idle CPU, which only needs the kick.
public struct Migration: Equatable, Sendable {
  public var vcpu: VCPUID
  public var from: HostCPUID
  public var to: HostCPUID
}

/// The policy half of Keel's vCPU scheduler: pure state, driven by the hypervisor shell.
///
/// Design. Each VM's *entitlement* (CPU units, 1 CPU = 2^16) is computed hierarchically from the
/// demand of its active vCPUs: the machine's capacity is split among virtual hosts, then down each
/// resource-group tree, by shares, with every entity kept between its reservation and
/// min(limit, demand) (ESXi's divvying). Each vCPU then carries a virtual time advanced by
/// `ran / entitlement`; a CPU picks the runnable vCPU with the smallest virtual time (one global
/// order, biased towards the vCPU's last CPU), so CPU time follows entitlements - and therefore
/// shares, reservations and the hierarchy - on any number of CPUs. Limits are hard: token buckets
/// per VM and per group, refilled each `limitPeriod`, and a vCPU whose bucket (or an ancestor's)
/// is empty is not eligible even on an idle host.
///
/// Concurrency: one value, so the shell serializes all calls (one spinlock). After `init`, no
/// call allocates: scratch space is preallocated and results are values or `CPUMask`s.
public struct Scheduler: Sendable {
  public let configuration: SchedulerConfiguration
  let topology: Topology
  let tuning: SchedulerTuning

  // Per vCPU.
  var vcpuState: [VCPUState]
  var vcpuDeadlineSlack: [UInt64]
  var virtualTime: [UInt64]
  var weight: [UInt64]
  /// The CPU a vCPU is biased towards: where it last ran, or where a kick or migration sent it.
  var home: [Int]
  /// The idle CPU a woken vCPU was sent to (-1: none). Until that CPU picks, no other takes
  /// it: a CPU that happens to pick first would steal it from where it waits loaded, and both
  /// would pay for moving its state.
  var claimedBy: [Int]
  /// Where it actually last ran (-1: never), to report migrations.
  var lastCPU: [Int]
  var vcpuConsumed: [UInt64]

  // Per node (groups, VMs, machine).
  var activeVCPUs: [Int]
  var demand: [UInt64]
  var lower: [UInt64]
  var allocation: [UInt64]
  var limited: [Bool]
  /// Some node has a limit. Without one nothing is ever throttled, and the throttle flags
  /// (all false) need no recomputing at every pick.
  var anyLimited = false
  var quota: [Int64]
  var budget: [Int64]
  var nodeConsumed: [UInt64]
  var throttled: [Bool]
  var wasThrottled: [Bool]

  // Per host CPU.
  var cpuRunning: [Int]
  var cpuSliceEnd: [UInt64]
  var cpuIdle: [Bool]
  var cpuKickPending: [Bool]
  var cpuMigrationClaimed: [Bool]
  /// Whether the CPU's scheduling timer covers its running vCPU's slice end (`timerDeadline`).
  var cpuSliceArmed: [Bool]

  var globalVirtualTime: UInt64 = 0
  var limitPeriodIndex: UInt64 = 0
  var entitlementsDirty = true

  /// Below this weight (1/1024 CPU) virtual time would race ahead and overflow sooner.
  static let minimumWeight: UInt64 = cpuUnit >> 10

  public init(configuration: SchedulerConfiguration) throws(AdmissionError) {
    let topology = try configuration.admit()
    self.configuration = configuration
    self.topology = topology
    self.tuning = configuration.tuning
    let vcpus = topology.vcpuVM.count
    let nodes = topology.machineNode + 1
    let cpus = configuration.hostCPUCount
    vcpuState = [VCPUState](repeating: .off, count: vcpus)
    vcpuDeadlineSlack = [UInt64](repeating: 0, count: vcpus)
    claimedBy = [Int](repeating: -1, count: vcpus)
    virtualTime = [UInt64](repeating: 0, count: vcpus)
    weight = [UInt64](repeating: cpuUnit, count: vcpus)
    home = (0..<vcpus).map { $0 % cpus }
    lastCPU = [Int](repeating: -1, count: vcpus)
    vcpuConsumed = [UInt64](repeating: 0, count: vcpus)
    activeVCPUs = [Int](repeating: 0, count: nodes)
    demand = [UInt64](repeating: 0, count: nodes)
    lower = [UInt64](repeating: 0, count: nodes)
    allocation = [UInt64](repeating: 0, count: nodes)
    limited = [Bool](repeating: false, count: nodes)
    quota = [Int64](repeating: 0, count: nodes)
    nodeConsumed = [UInt64](repeating: 0, count: nodes)
    throttled = [Bool](repeating: false, count: nodes)
    wasThrottled = [Bool](repeating: false, count: nodes)
    for node in 0..<topology.machineNode where topology.nodeMaxUnits[node] != .max {
      limited[node] = true
      anyLimited = true
      // CPU-ticks per period: max (in CPUs) x period.
      quota[node] = Int64(topology.nodeMaxUnits[node] * configuration.tuning.limitPeriod / cpuUnit)
    }
    budget = quota
    cpuRunning = [Int](repeating: -1, count: cpus)
    cpuSliceEnd = [UInt64](repeating: 0, count: cpus)
    cpuIdle = [Bool](repeating: true, count: cpus)
    cpuKickPending = [Bool](repeating: false, count: cpus)
    cpuMigrationClaimed = [Bool](repeating: false, count: cpus)
    cpuSliceArmed = [Bool](repeating: true, count: cpus)
  }

  // MARK: Identities and statistics

  public var vcpuCount: Int { topology.vcpuVM.count }
  public func vcpu(_ index: Int, of vm: VMID) -> VCPUID {
    precondition(index < topology.vmVCPUCount[vm.index], "vCPU index out of range")
    return VCPUID(topology.vmVCPUBase[vm.index] + index)
  }
  public func vm(of vcpu: VCPUID) -> VMID { VMID(topology.vcpuVM[vcpu.index]) }
  /// The root group (virtual host) that owns a VM.
  public func virtualHost(of vm: VMID) -> GroupID { GroupID(topology.nodeRoot[topology.vmNode(vm.index)]) }
  // The queries the mutating decisions call are inlined: a call to a non-mutating method from
  // a mutating one copies the whole struct (over 400 bytes) at every call in the EL2 image.
  @inline(__always)
  public func state(of vcpu: VCPUID) -> VCPUState { vcpuState[vcpu.index] }
  public func running(on cpu: HostCPUID) -> VCPUID? {
    let v = cpuRunning[cpu.index]
    return v < 0 ? nil : VCPUID(v)
  }
  /// Host CPU time charged by `account`, in ticks.
  public func consumedTicks(of vcpu: VCPUID) -> UInt64 { vcpuConsumed[vcpu.index] }
  public func consumedTicks(of vm: VMID) -> UInt64 { nodeConsumed[topology.vmNode(vm.index)] }
  public func consumedTicks(of group: GroupID) -> UInt64 { nodeConsumed[group.index] }
  /// Current entitlement (as of the last scheduling decision) in MHz-equivalent.
  public func entitlementMHz(of vm: VMID) -> UInt64 {
    allocation[topology.vmNode(vm.index)] * UInt64(configuration.mhzPerCPU) / cpuUnit
  }
  public func entitlementMHz(of group: GroupID) -> UInt64 {
    allocation[group.index] * UInt64(configuration.mhzPerCPU) / cpuUnit
  }

  /// Whether some eligible vCPU waits for a host CPU. Without one, a running vCPU has no
  /// competitor and its CPU needs no slice timer (an uncontended guest takes no scheduling exits);
  /// when one appears and `wake`/`powerOn` name no CPU to kick, the shell kicks busy CPUs so
  /// they arm their slice timers.
  @inline(__always)
  public func hasWaitingWork() -> Bool {
    for v in 0..<vcpuState.count where vcpuState[v] == .runnable && !isThrottled(vm: topology.vcpuVM[v]) { return true }
    return false
  }

  /// Whether the VM's CPU time is capped (its own `max` or an ancestor's): its slices end
  /// when its budget does, contended or not.
  @inline(__always)
  public func isLimited(_ vm: VMID) -> Bool {
    var node = topology.vmNode(vm.index)
    while node >= 0 {
      if limited[node] { return true }
      node = topology.nodeParent[node]
    }
    return false
  }

  // MARK: vCPU state changes

  /// PSCI CPU_ON or VM power-on. Returns the CPU to kick, if any.
  public mutating func powerOn(_ vcpu: VCPUID, now: UInt64) -> HostCPUID? {
    guard vcpuState[vcpu.index] == .off else { return nil }
    makeRunnable(vcpu.index, now: now)
    return kickTarget(for: vcpu.index)
  }

  /// PSCI CPU_OFF, VM stop or reset. If the vCPU was running, its CPU must call `pickNext`.
  public mutating func powerOff(_ vcpu: VCPUID) {
    leaveActive(vcpu.index)
    vcpuState[vcpu.index] = .off
  }

  /// The vCPU waits for an interrupt (WFI/WFE, PSCI CPU_SUSPEND). `deadline` is its earliest
  /// timer, nil if none; `slack` is how late the wake-up may be (deeper power states allow more),
  /// which lets the CPU's timer coalesce several wake-ups. If it was running, its CPU must call
  /// `pickNext`. The shell checks for pending virtual interrupts before blocking.
  public mutating func block(_ vcpu: VCPUID, until deadline: UInt64?, slack: UInt64 = 0, now: UInt64) {
    let v = vcpu.index
    switch vcpuState[v] {
    case .runnable, .running: break
    default: return
    }
    if let deadline, deadline <= now { return }   // already due: stays runnable
    leaveActive(v)
    vcpuState[v] = .blocked(until: deadline)
    vcpuDeadlineSlack[v] = slack
  }

  /// A virtual interrupt (or event) for a blocked vCPU. Returns the CPU to kick, if any.
  /// Waking a runnable or running vCPU does nothing: the shell delivers the interrupt itself.
  public mutating func wake(_ vcpu: VCPUID, now: UInt64) -> HostCPUID? {
    guard case .blocked = vcpuState[vcpu.index] else { return nil }
    makeRunnable(vcpu.index, now: now)
    return kickTarget(for: vcpu.index)
  }

  /// Charges `ran` ticks of host CPU to a vCPU (call at every exit that ends a stint, or more often).
  public mutating func account(vcpu: VCPUID, ran: UInt64, now: UInt64) {
    refillBudgets(now: now)
    let v = vcpu.index
    let charged = min(ran, 1 << 40)   // keeps the fixed-point product in 64 bits
    virtualTime[v] &+= charged * cpuUnit / max(weight[v], Self.minimumWeight)
    vcpuConsumed[v] &+= charged
    var node = topology.vmNode(topology.vcpuVM[v])
    while node >= 0 {
      nodeConsumed[node] &+= charged
      if limited[node] { budget[node] = budget[node] &- Int64(charged) }
      node = topology.nodeParent[node]
    }
  }

  // MARK: Decisions

  /// Chooses what `cpu` runs next. Whatever it was running goes back into competition first, so
  /// call this at slice end, after a block, and when kicked. nil: nothing to run, the CPU may sleep
  /// in WFI until `nextEvent(cpu:now:)`.
  public mutating func pickNext(cpu: HostCPUID, now: UInt64) -> Dispatch? {
    let c = cpu.index
    refillBudgets(now: now)
    if entitlementsDirty { recomputeEntitlements() }
    cpuKickPending[c] = false
    cpuMigrationClaimed[c] = false
    let previous = cpuRunning[c]
    if previous >= 0 {
      if vcpuState[previous] == .running(cpu) { vcpuState[previous] = .runnable }
      cpuRunning[c] = -1
    }
    computeThrottling(intoPrevious: false)

    var best = -1
    var bestKey = UInt64.max
    var minimumVirtualTime = UInt64.max
    for v in 0..<vcpuState.count {
      switch vcpuState[v] {
      case .running:
        minimumVirtualTime = min(minimumVirtualTime, virtualTime[v])
        continue
      case .runnable:
        let claim = claimedBy[v]
        if claim == c { claimedBy[v] = -1 } else if claim >= 0 { continue }
      default:
        continue
      }
      if throttled[topology.vmNode(topology.vcpuVM[v])] { continue }
      minimumVirtualTime = min(minimumVirtualTime, virtualTime[v])
      let bias = home[v] == c ? 0 : tuning.affinityBonus
      let (key, overflow) = virtualTime[v].addingReportingOverflow(bias)
      let effectiveKey = overflow ? UInt64.max : key
      if effectiveKey < bestKey || (effectiveKey == bestKey && v == previous) {
        best = v
        bestKey = effectiveKey
      }
    }
    if minimumVirtualTime != .max && minimumVirtualTime > globalVirtualTime {
      globalVirtualTime = minimumVirtualTime
      if globalVirtualTime > 1 << 62 { renormalizeVirtualTime() }
    }
    guard best >= 0 else {
      cpuIdle[c] = true
      return nil
    }
    cpuIdle[c] = false
    cpuRunning[c] = best
    vcpuState[best] = .running(cpu)
    let migratedFrom: HostCPUID? = lastCPU[best] >= 0 && lastCPU[best] != c ? HostCPUID(lastCPU[best]) : nil
    home[best] = c
    lastCPU[best] = c

    var end: UInt64
    if best == previous && cpuSliceEnd[c] > now &+ tuning.minimumSlice {
      end = cpuSliceEnd[c]   // kicked mid-slice and still the best: keep the rest of the slice
    } else {
      end = now &+ tuning.timeSlice
    }
    var node = topology.vmNode(topology.vcpuVM[best])
    while node >= 0 {
      if limited[node] {
        let left = UInt64(max(budget[node], 0))
        end = min(end, now &+ max(left, tuning.minimumSlice))
      }
      node = topology.nodeParent[node]
    }
    cpuSliceEnd[c] = end
    return Dispatch(vcpu: VCPUID(best), slice: end - now, migratedFrom: migratedFrom)
  }

  /// Call when a CPU's scheduler timer fires: wakes every blocked vCPU whose deadline has passed
  /// and refills limit budgets. Returns the CPUs to kick (may include the caller's own CPU, which
  /// reschedules anyway).
  public mutating func handleTimers(now: UInt64) -> CPUMask {
    var kicks = CPUMask()
    let newPeriod = now / tuning.limitPeriod > limitPeriodIndex
    if newPeriod { computeThrottling(intoPrevious: true) }
    refillBudgets(now: now)
    if newPeriod {
      computeThrottling(intoPrevious: false)
      for v in 0..<vcpuState.count where vcpuState[v] == .runnable {
        let node = topology.vmNode(topology.vcpuVM[v])
        if wasThrottled[node] && !throttled[node], let cpu = kickTarget(for: v) { kicks.insert(cpu) }
      }
    }
    for v in 0..<vcpuState.count {
      guard case .blocked(let deadline?) = vcpuState[v], deadline <= now else { continue }
      makeRunnable(v, now: now)
      if let cpu = kickTarget(for: v) { kicks.insert(cpu) }
    }
    return kicks
  }

  /// When `cpu` must next get a timer interrupt: the end of its slice, the earliest wake-up
  /// (deadline + slack) of vCPUs sleeping on it, or a limit refill that unthrottles work it could
  /// run. nil: sleep until an interrupt (an idle host with idle guests costs nothing).
  /// `sliceEnds: false` leaves the running vCPU's slice end out (see `hasWaitingWork`).
  @inline(__always)
  public func nextEvent(cpu: HostCPUID, now: UInt64, sliceEnds: Bool = true) -> UInt64? {
    let c = cpu.index
    var next = UInt64.max
    if cpuRunning[c] >= 0 && sliceEnds { next = cpuSliceEnd[c] }
    var waitsForRefill = false
    for v in 0..<vcpuState.count {
      switch vcpuState[v] {
      case .blocked(let deadline?) where home[v] == c:
        let (late, overflow) = deadline.addingReportingOverflow(vcpuDeadlineSlack[v])
        next = min(next, overflow ? .max : late)
      case .runnable where !waitsForRefill && (home[v] == c || cpuIdle[c]):
        waitsForRefill = isThrottled(vm: topology.vcpuVM[v])
      default:
        break
      }
    }
    if waitsForRefill { next = min(next, (limitPeriodIndex + 1) * tuning.limitPeriod) }
    return next == .max ? nil : next
  }

  /// Periodic rebalancing: one runnable, eligible vCPU that should move to an idle CPU (the one
  /// furthest behind), already re-homed there; the shell kicks `to`. Call until nil. It also
  /// recovers from a kick that never led to `pickNext` (pending kicks are not trusted here).
  public mutating func nextMigration(now: UInt64) -> Migration? {
    refillBudgets(now: now)
    for c in 0..<cpuRunning.count where cpuIdle[c] && !cpuMigrationClaimed[c] && cpuRunning[c] < 0 {
      var best = -1
      for v in 0..<vcpuState.count where vcpuState[v] == .runnable && !isThrottled(vm: topology.vcpuVM[v]) {
        let claimedElsewhere = home[v] != c && cpuMigrationClaimed[home[v]] && cpuRunning[home[v]] < 0
        if claimedElsewhere { continue }
        if best < 0 || virtualTime[v] < virtualTime[best] { best = v }
      }
      guard best >= 0 else { return nil }
      let from = home[best]
      home[best] = c
      cpuKickPending[c] = true
      cpuMigrationClaimed[c] = true
      return Migration(vcpu: VCPUID(best), from: HostCPUID(from), to: HostCPUID(c))
    }
    return nil
  }
}
