// The policy's internal bookkeeping: state transitions, kick targets, limits (token buckets),
// virtual-time renormalisation and the division of entitlements down the group tree.
// Split from Scheduler.swift only to keep files short; no behaviour of its own.

extension Scheduler {
  mutating func makeRunnable(_ v: Int, now: UInt64) {
    vcpuState[v] = .runnable
    claimedBy[v] = -1
    // Bounded sleeper credit: a long sleep must not buy a long monopoly.
    let floor = globalVirtualTime > tuning.sleeperCredit ? globalVirtualTime - tuning.sleeperCredit : 0
    if virtualTime[v] < floor { virtualTime[v] = floor }
    activeVCPUs[topology.vmNode(topology.vcpuVM[v])] += 1
    entitlementsDirty = true
  }

  mutating func leaveActive(_ v: Int) {
    switch vcpuState[v] {
    case .running(let cpu):
      cpuRunning[cpu.index] = -1
      fallthrough
    case .runnable:
      activeVCPUs[topology.vmNode(topology.vcpuVM[v])] -= 1
      entitlementsDirty = true
    default:
      break
    }
  }

  /// An idle CPU (preferring the vCPU's last one), else a CPU whose current vCPU is far enough
  /// ahead in virtual time to be preempted, else nil (the vCPU waits for a slice end).
  mutating func kickTarget(for v: Int) -> HostCPUID? {
    if isThrottled(vm: topology.vcpuVM[v]) { return nil }
    let preferred = home[v]
    if cpuIdle[preferred] && !cpuKickPending[preferred] && cpuRunning[preferred] < 0 {
      cpuKickPending[preferred] = true
      claimedBy[v] = preferred
      return HostCPUID(preferred)
    }
    // Re-homing to the kicked CPU makes that CPU's next pick choose this vCPU despite the affinity bias.
    for c in 0..<cpuRunning.count where cpuIdle[c] && !cpuKickPending[c] && cpuRunning[c] < 0 {
      cpuKickPending[c] = true
      home[v] = c
      claimedBy[v] = c
      return HostCPUID(c)
    }
    var target = -1
    let threshold = virtualTime[v] &+ tuning.wakeupGranularity
    for c in 0..<cpuRunning.count where !cpuKickPending[c] {
      let r = cpuRunning[c]
      guard r >= 0, virtualTime[r] > threshold else { continue }
      if target < 0 || virtualTime[r] > virtualTime[cpuRunning[target]] || (c == preferred
          && virtualTime[r] == virtualTime[cpuRunning[target]]) {
        target = c
      }
    }
    guard target >= 0 else { return nil }
    cpuKickPending[target] = true
    home[v] = target
    return HostCPUID(target)
  }

  @inline(__always)
  func isThrottled(vm: Int) -> Bool {
    var node = topology.vmNode(vm)
    while node >= 0 {
      if limited[node] && budget[node] <= 0 { return true }
      node = topology.nodeParent[node]
    }
    return false
  }

  /// Throttle flags for every node (a node is throttled if it or an ancestor has spent its
  /// budget), written in place into `throttled`, or into `wasThrottled` to compare across a refill.
  mutating func computeThrottling(intoPrevious: Bool) {
    guard anyLimited else { return }
    for node in topology.topDown {
      let parent = topology.nodeParent[node]
      let own = limited[node] && budget[node] <= 0
      if intoPrevious {
        wasThrottled[node] = own || (parent >= 0 && wasThrottled[parent])
      } else {
        throttled[node] = own || (parent >= 0 && throttled[parent])
      }
    }
    for vm in 0..<topology.vmCount {
      let node = topology.vmNode(vm)
      let parent = topology.nodeParent[node]
      let own = limited[node] && budget[node] <= 0
      if intoPrevious {
        wasThrottled[node] = own || wasThrottled[parent]
      } else {
        throttled[node] = own || throttled[parent]
      }
    }
  }

  mutating func refillBudgets(now: UInt64) {
    let period = now / tuning.limitPeriod
    guard period > limitPeriodIndex else { return }
    let elapsed = period - limitPeriodIndex
    limitPeriodIndex = period
    for node in 0..<limited.count where limited[node] {
      // The bucket holds one period's quota: debt from an overrun slice is repaid, savings are not kept.
      let (refill, overflow) = quota[node].multipliedReportingOverflow(by: Int64(min(elapsed, 1 << 32)))
      let (sum, overflow2) = budget[node].addingReportingOverflow(overflow ? .max : refill)
      budget[node] = min(overflow2 ? .max : sum, quota[node])
    }
  }

  mutating func renormalizeVirtualTime() {
    let shift = globalVirtualTime - (1 << 60)
    for v in 0..<virtualTime.count { virtualTime[v] = virtualTime[v] > shift ? virtualTime[v] - shift : 0 }
    globalVirtualTime -= shift
  }

  /// Hierarchical divvying of CPU units by shares between reservation and min(limit, demand).
  mutating func recomputeEntitlements() {
    entitlementsDirty = false
    for vm in 0..<topology.vmCount {
      let node = topology.vmNode(vm)
      demand[node] = min(UInt64(activeVCPUs[node]) * cpuUnit, topology.nodeMaxUnits[node])
      lower[node] = min(topology.nodeMinUnits[node], demand[node])
    }
    for node in topology.topDown.reversed() {
      var demandSum: UInt64 = 0
      var lowerSum: UInt64 = 0
      for child in topology.nodeChildren[node] {
        demandSum += demand[child]
        lowerSum += lower[child]
      }
      demand[node] = min(demandSum, topology.nodeMaxUnits[node])
      lower[node] = min(max(topology.nodeMinUnits[node], lowerSum), demand[node])
    }
    let machine = topology.machineNode
    allocation[machine] = demand[machine]
    for node in topology.topDown { divide(allocation[node], among: topology.nodeChildren[node]) }
    for vm in 0..<topology.vmCount {
      let node = topology.vmNode(vm)
      guard activeVCPUs[node] > 0 else { continue }   // idle VMs keep their last weight for waking
      let perVCPU = max(allocation[node] / UInt64(activeVCPUs[node]), Self.minimumWeight)
      let base = topology.vmVCPUBase[vm]
      for v in base..<base + topology.vmVCPUCount[vm] { weight[v] = perVCPU }
    }
  }

  /// allocation[i] = clamp(lambda * shares[i], lower[i], demand[i]) with lambda chosen so the
  /// total is `amount`; lambda is found by bisection in 16.16 fixed point (no floating point).
  mutating func divide(_ amount: UInt64, among children: [Int]) {
    guard !children.isEmpty else { return }
    var demandSum: UInt64 = 0
    var lowerSum: UInt64 = 0
    for child in children {
      demandSum += demand[child]
      lowerSum += lower[child]
    }
    if demandSum <= amount {
      for child in children { allocation[child] = demand[child] }
      return
    }
    if lowerSum >= amount {
      for child in children { allocation[child] = lowerSum == 0 ? 0 : lower[child] * amount / lowerSum }
      return
    }
    var low: UInt64 = 0
    var high: UInt64 = (amount << 16) + 1   // shares >= 1, so this lambda satisfies every demand
    while low < high {
      let lambda = low + (high - low) / 2
      var total: UInt64 = 0
      for child in children {
        total += min(max((lambda * topology.nodeShares[child]) >> 16, lower[child]), demand[child])
      }
      if total >= amount { high = lambda } else { low = lambda + 1 }
    }
    for child in children {
      allocation[child] = min(max((low * topology.nodeShares[child]) >> 16, lower[child]), demand[child])
    }
  }
}
