import KeelSched

extension MachineDefinition {
  /// The scheduler's view of these VMs, in order (VM i is `VMID(i)`), on `hostCPUs` host CPUs.
  /// With no group in the configuration, all VMs share one implicit root group named `host`:
  /// a single virtual host.
  public func schedulerConfiguration(hostCPUs: Int, ticksPerSecond: UInt64) -> SchedulerConfiguration {
    func allocation(_ shares: UInt32?, _ min: UInt32, _ max: UInt32?) -> CPUAllocation {
      CPUAllocation(shares: shares.map { .custom($0) } ?? .normal, minMHz: min, maxMHz: max)
    }
    func groupID(_ name: [UInt8]) -> GroupID? { groups.firstIndex(where: { $0.name == name }).map { GroupID($0) } }
    var specs: [ResourceGroupSpec] = groups.map { g in
      ResourceGroupSpec(name: String(decoding: g.name, as: UTF8.self), parent: g.parent.flatMap(groupID),
                        allocation: allocation(g.shares, g.cpuMinMHz, g.cpuMaxMHz), expandableReservation: g.expandable)
    }
    let implicitRoot = GroupID(specs.count)
    if vms.contains(where: { $0.group == nil }) { specs.append(ResourceGroupSpec(name: "host", parent: nil)) }
    let vmSpecs = vms.map { def in
      VMSpec(name: String(decoding: def.name, as: UTF8.self), group: def.group.flatMap(groupID) ?? implicitRoot,
             vcpuCount: def.cpus, allocation: allocation(def.shares, def.cpuMinMHz, def.cpuMaxMHz))
    }
    return SchedulerConfiguration(hostCPUCount: hostCPUs, mhzPerCPU: cpuMHz, ticksPerSecond: ticksPerSecond,
                                  groups: specs, vms: vmSpecs, tuning: .hypervisor(ticksPerSecond: ticksPerSecond))
  }
}
