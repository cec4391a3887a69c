/// What an admission error is about.
public enum SchedSubject: Equatable, Sendable {
  case group(GroupID)
  case vm(VMID)
}

/// Why a configuration cannot be admitted. Cases about one entity carry its id and name so the
/// shell can point at the offending `.vmx` or host-configuration entry.
public enum AdmissionError: Error, Equatable, Sendable {
  case noHostCPUs
  case tooManyHostCPUs(count: Int, limit: Int)
  /// `ticksPerSecond` or `mhzPerCPU` is zero.
  case invalidClock
  /// A tuning value that must be non-zero is zero.
  case invalidTuning
  case tooManyEntities(groups: Int, vcpus: Int)
  case unknownParentGroup(group: GroupID, name: String, parent: GroupID)
  /// Following `parent` from this group comes back to it.
  case groupCycle(group: GroupID, name: String)
  case unknownGroup(vm: VMID, name: String, group: GroupID)
  case invalidVCPUCount(vm: VMID, name: String, count: Int)
  case invalidShares(SchedSubject, name: String, shares: UInt32)
  case limitBelowReservation(SchedSubject, name: String, minMHz: UInt32, maxMHz: UInt32)
  /// A VM cannot use more than one host CPU per vCPU, nor more than the host has.
  case reservationAboveVCPUs(vm: VMID, name: String, minMHz: UInt32, usableMHz: UInt64)
  /// Non-expandable group whose children reserve more than its own `min`.
  case childReservationsExceedGroup(group: GroupID, name: String, childrenMHz: UInt64, groupMHz: UInt32)
  /// The reservations inside a group (its own or its children's) exceed its `max`.
  case reservationAboveGroupLimit(group: GroupID, name: String, reservedMHz: UInt64, maxMHz: UInt32)
  /// The virtual hosts together reserve more than the machine has.
  case reservationsExceedCapacity(reservedMHz: UInt64, capacityMHz: UInt64)
  /// Two VMs of one virtual host share a name.
  case duplicateVMName(vm: VMID, name: String, other: VMID)
}

/// The configuration after admission, flattened into arrays indexed by node number:
/// groups are nodes 0..<G, VMs are G..<G+V, and node G+V is the machine (parent of the roots).
struct Topology: Sendable {
  var groupCount: Int
  var vmCount: Int
  var nodeParent: [Int]          // machine node has -1
  var nodeChildren: [[Int]]      // empty for VMs
  var topDown: [Int]             // machine, then groups, parents before children
  var nodeShares: [UInt64]
  var nodeMinUnits: [UInt64]     // reservation in CPU units (1 CPU = cpuUnit)
  var nodeMaxUnits: [UInt64]     // UInt64.max when unlimited
  var nodeRoot: [Int]            // the virtual-host root group of each node
  var vmVCPUBase: [Int]
  var vmVCPUCount: [Int]
  var vcpuVM: [Int]

  var machineNode: Int { groupCount + vmCount }
  func vmNode(_ vm: Int) -> Int { groupCount + vm }
}

/// Entitlement unit: 1 host CPU = 2^16 units, so fractions of a CPU stay integral.
let cpuUnit: UInt64 = 1 << 16

/// Reservations round up and limits round down, so neither guarantee is lost to rounding.
func units(mhz: UInt64, mhzPerCPU: UInt32, roundingUp: Bool) -> UInt64 {
  (mhz * cpuUnit + (roundingUp ? UInt64(mhzPerCPU) - 1 : 0)) / UInt64(mhzPerCPU)
}

private func sameName(_ a: String, _ b: String) -> Bool {
  // Byte comparison: names come from config files, and this avoids the Unicode tables.
  a.utf8.count == b.utf8.count && a.utf8.elementsEqual(b.utf8)
}

extension SchedulerConfiguration {
  /// Admission control: checks the whole configuration and throws the first problem found.
  public func validate() throws(AdmissionError) {
    _ = try admit()
  }

  func admit() throws(AdmissionError) -> Topology {
    guard hostCPUCount > 0 else { throw .noHostCPUs }
    guard hostCPUCount <= Self.maximumHostCPUs else {
      throw .tooManyHostCPUs(count: hostCPUCount, limit: Self.maximumHostCPUs)
    }
    guard ticksPerSecond > 0, mhzPerCPU > 0 else { throw .invalidClock }
    guard tuning.timeSlice > 0, tuning.minimumSlice > 0, tuning.limitPeriod > 0 else { throw .invalidTuning }
    let groupCount = groups.count
    let vcpuTotal = vms.reduce(0) { $0 + max($1.vcpuCount, 0) }
    guard groupCount < Int(UInt16.max), vms.count < Int(UInt16.max), vcpuTotal < Int(UInt16.max) else {
      throw .tooManyEntities(groups: groupCount, vcpus: vcpuTotal)
    }

    // Structure: parents exist, no cycles.
    for (index, group) in groups.enumerated() {
      if let parent = group.parent, parent.index >= groupCount {
        throw .unknownParentGroup(group: GroupID(index), name: group.name, parent: parent)
      }
    }
    var depth = [Int](repeating: 0, count: groupCount)
    for index in 0..<groupCount {
      var steps = 0
      var cursor = groups[index].parent
      while let parent = cursor {
        steps += 1
        if steps > groupCount { throw .groupCycle(group: GroupID(index), name: groups[index].name) }
        cursor = groups[parent.index].parent
      }
      depth[index] = steps
    }

    // Per-entity values.
    for (index, group) in groups.enumerated() {
      let shares = group.allocation.shares.groupValue
      guard shares > 0, shares <= Shares.maximumCustom else {
        throw .invalidShares(.group(GroupID(index)), name: group.name, shares: shares)
      }
      if let max = group.allocation.maxMHz, max < group.allocation.minMHz {
        throw .limitBelowReservation(.group(GroupID(index)), name: group.name,
                                     minMHz: group.allocation.minMHz, maxMHz: max)
      }
    }
    for (index, vm) in vms.enumerated() {
      let id = VMID(index)
      guard vm.group.index < groupCount else { throw .unknownGroup(vm: id, name: vm.name, group: vm.group) }
      guard vm.vcpuCount >= 1, vm.vcpuCount <= Self.maximumVCPUsPerVM else {
        throw .invalidVCPUCount(vm: id, name: vm.name, count: vm.vcpuCount)
      }
      let shares = vm.allocation.shares.value(forVCPUs: vm.vcpuCount)
      guard shares > 0, shares <= Shares.maximumCustom else {
        throw .invalidShares(.vm(id), name: vm.name, shares: shares)
      }
      if let max = vm.allocation.maxMHz, max < vm.allocation.minMHz {
        throw .limitBelowReservation(.vm(id), name: vm.name, minMHz: vm.allocation.minMHz, maxMHz: max)
      }
      let usable = UInt64(min(vm.vcpuCount, hostCPUCount)) * UInt64(mhzPerCPU)
      guard UInt64(vm.allocation.minMHz) <= usable else {
        throw .reservationAboveVCPUs(vm: id, name: vm.name, minMHz: vm.allocation.minMHz, usableMHz: usable)
      }
    }

    // Topology arrays.
    let machine = groupCount + vms.count
    var parent = [Int](repeating: -1, count: machine + 1)
    var children = [[Int]](repeating: [], count: machine + 1)
    var root = [Int](repeating: 0, count: machine + 1)
    for (index, group) in groups.enumerated() {
      parent[index] = group.parent.map { $0.index } ?? machine
    }
    for (index, vm) in vms.enumerated() { parent[groupCount + index] = vm.group.index }
    for node in 0..<machine { children[parent[node]].append(node) }
    for node in 0..<machine {
      var cursor = node < groupCount ? node : parent[node]
      while parent[cursor] != machine { cursor = parent[cursor] }
      root[node] = cursor
    }
    root[machine] = machine

    // VM names are unique per virtual host (each tenant names its own VMs).
    for a in 0..<vms.count {
      for b in 0..<a where root[groupCount + a] == root[groupCount + b] && sameName(vms[a].name, vms[b].name) {
        throw .duplicateVMName(vm: VMID(a), name: vms[a].name, other: VMID(b))
      }
    }

    // Reservations, bottom-up in MHz: deepest groups first.
    var reservedMHz = [UInt64](repeating: 0, count: machine + 1)
    for (index, vm) in vms.enumerated() { reservedMHz[groupCount + index] = UInt64(vm.allocation.minMHz) }
    var groupsDeepestFirst = Array(0..<groupCount)
    groupsDeepestFirst.sort { depth[$0] > depth[$1] || (depth[$0] == depth[$1] && $0 < $1) }
    for g in groupsDeepestFirst {
      let group = groups[g]
      var childSum: UInt64 = 0
      for child in children[g] { childSum += reservedMHz[child] }
      let own = UInt64(group.allocation.minMHz)
      if !group.expandableReservation && childSum > own {
        throw .childReservationsExceedGroup(group: GroupID(g), name: group.name, childrenMHz: childSum,
                                            groupMHz: group.allocation.minMHz)
      }
      let reserved = max(own, childSum)
      if let limit = group.allocation.maxMHz, reserved > UInt64(limit) {
        throw .reservationAboveGroupLimit(group: GroupID(g), name: group.name, reservedMHz: reserved, maxMHz: limit)
      }
      reservedMHz[g] = reserved
    }
    var total: UInt64 = 0
    for child in children[machine] { total += reservedMHz[child] }
    guard total <= capacityMHz else { throw .reservationsExceedCapacity(reservedMHz: total, capacityMHz: capacityMHz) }

    // Runtime parameters in CPU units.
    var shares = [UInt64](repeating: 1, count: machine + 1)
    var minUnits = [UInt64](repeating: 0, count: machine + 1)
    var maxUnits = [UInt64](repeating: .max, count: machine + 1)
    for (index, group) in groups.enumerated() {
      shares[index] = UInt64(group.allocation.shares.groupValue)
      minUnits[index] = units(mhz: UInt64(group.allocation.minMHz), mhzPerCPU: mhzPerCPU, roundingUp: true)
      if let limit = group.allocation.maxMHz {
        maxUnits[index] = units(mhz: UInt64(limit), mhzPerCPU: mhzPerCPU, roundingUp: false)
      }
    }
    var vcpuBase = [Int](), vcpuCount = [Int](), vcpuVM = [Int]()
    for (index, vm) in vms.enumerated() {
      let node = groupCount + index
      shares[node] = UInt64(vm.allocation.shares.value(forVCPUs: vm.vcpuCount))
      minUnits[node] = units(mhz: UInt64(vm.allocation.minMHz), mhzPerCPU: mhzPerCPU, roundingUp: true)
      let hardware = UInt64(vm.vcpuCount) * cpuUnit
      if let limit = vm.allocation.maxMHz, units(mhz: UInt64(limit), mhzPerCPU: mhzPerCPU, roundingUp: false) < hardware {
        maxUnits[node] = units(mhz: UInt64(limit), mhzPerCPU: mhzPerCPU, roundingUp: false)
      }
      vcpuBase.append(vcpuVM.count)
      vcpuCount.append(vm.vcpuCount)
      for _ in 0..<vm.vcpuCount { vcpuVM.append(index) }
    }
    maxUnits[machine] = UInt64(hostCPUCount) * cpuUnit
    // Headroom on reservations, capped at what the hardware can give the entity.
    let headroom = UInt64(tuning.reservationHeadroomPerMille)
    for node in 0..<machine where minUnits[node] > 0 {
      let ceiling = node < groupCount ? UInt64(hostCPUCount) * cpuUnit
                                      : UInt64(min(vms[node - groupCount].vcpuCount, hostCPUCount)) * cpuUnit
      minUnits[node] = min(minUnits[node] * (1000 + headroom) / 1000, ceiling, maxUnits[node])
    }

    var topDown = [machine]
    var groupsShallowFirst = groupsDeepestFirst
    groupsShallowFirst.reverse()
    topDown += groupsShallowFirst

    return Topology(groupCount: groupCount, vmCount: vms.count, nodeParent: parent, nodeChildren: children,
                    topDown: topDown, nodeShares: shares, nodeMinUnits: minUnits, nodeMaxUnits: maxUnits,
                    nodeRoot: root, vmVCPUBase: vcpuBase, vmVCPUCount: vcpuCount, vcpuVM: vcpuVM)
  }
}
